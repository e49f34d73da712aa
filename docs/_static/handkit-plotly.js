// Draws the notebooks' saved plotly figures (docs/_ext/notebook_outputs.py writes each one as a
// <div class="handkit-plotly"> holding its JSON) with the plotly.min.js shipped with the site.
// A figure is drawn at the size its notebook gave it; one wider than the page's column is shown
// scaled down as a whole (a CSS transform, which plotly's hover and zoom take into account), so
// its text and subplots keep their places. The scale follows the window's width.
(function () {
  "use strict";
  var drawn = [];

  function fit(item) {
    var natural = item.target.offsetWidth, height = item.target.offsetHeight;
    var scale = Math.min(1, item.holder.clientWidth / Math.max(natural, 1));
    item.target.style.transform = scale < 1 ? "scale(" + scale + ")" : "";
    item.holder.style.height = scale < 1 ? Math.ceil(height * scale) + "px" : "";
  }

  function draw(holder) {
    var data = holder.querySelector('script[type="application/json"]');
    if (!data || holder.dataset.drawn) return;
    holder.dataset.drawn = "1";
    var figure = JSON.parse(data.textContent);
    var target = document.createElement("div");
    target.className = "handkit-plotly-figure";
    if (figure.layout && figure.layout.width) target.style.width = figure.layout.width + "px";
    holder.appendChild(target);
    var item = {holder: holder, target: target};
    window.Plotly.newPlot(target, figure.data || [], figure.layout || {}, {displaylogo: false})
      .then(function () { fit(item); });
    drawn.push(item);
  }

  function drawAll() {
    document.querySelectorAll("div.handkit-plotly").forEach(draw);
    var timer = null;
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { drawn.forEach(fit); }, 200);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
