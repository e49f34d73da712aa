"""Write the tiny self-made HO-3D and InterHand2.6M fixtures under ``data_samples/``.

Run ``python tests/make_dataset_fixtures.py`` from the repository root; the output is
deterministic. The fixtures follow each dataset's real file layout and schema, with made-up
content: a rigid hand skeleton (``REST_JOINTS_MM``, handkit order, wrist at the origin) turned by
the MANO global rotation and placed in front of the camera, and an absolute finger pose of zero,
so that joints = Rglobal @ REST_JOINTS_MM + root holds exactly after conversion. Each image is
dark with a white 5x5 block at the projected wrist and a red one at the projected thumb tip.
``fixture_truth.json`` in each folder holds what the tests need to know about the content; the
readers never read it.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.spatial.transform import Rotation

from handkit.mano.model import MANO_TO_OUTPUT_ORDER

OUT = Path(__file__).resolve().parents[1] / "data_samples"
SEED = 20240601

#: Rigid right-hand skeleton in MANO's rest frame, handkit order, mm, wrist at the origin.
REST_JOINTS_MM = np.array([
    [0, 0, 0],
    [25, -5, 20], [45, -10, 35], [60, -12, 48], [75, -14, 60],  # thumb
    [90, 0, 22], [125, 0, 24], [147, 0, 25], [165, 0, 26],  # index
    [92, 0, 2], [130, 0, 2], [155, 0, 2], [175, 0, 2],  # middle
    [87, 0, -17], [120, 0, -18], [142, 0, -19], [160, 0, -20],  # ring
    [80, 0, -35], [105, 0, -38], [120, 0, -40], [135, 0, -42],  # pinky
], dtype=np.float64)

WHITE, RED, BACKGROUND = (255, 255, 255), (255, 0, 0), (30, 30, 30)
OPENGL = np.diag([1.0, -1.0, -1.0])
#: InterHand per-hand index of each handkit joint (wrist last, fingers tip first there).
INTERHAND_OF_HANDKIT = [20] + [4 * f + k for f in range(5) for k in (3, 2, 1, 0)]


def project(points: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    uvw = points @ intrinsics.T
    return uvw[:, :2] / uvw[:, 2:3]


def marker_image(width: int, height: int, wrist_uv, thumb_tip_uv) -> Image.Image:
    pixels = np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
    for uv, colour in ((thumb_tip_uv, RED), (wrist_uv, WHITE)):
        u, v = np.rint(uv).astype(int)
        pixels[max(v - 2, 0):max(v + 3, 0), max(u - 2, 0):max(u + 3, 0)] = colour
    return Image.fromarray(pixels)


def posed_hand(rng: np.random.Generator, intrinsics: np.ndarray, size: tuple[int, int],
               depth: float):
    """A global rotation (3, 3) and camera-space joints (21, 3) mm whose wrist and thumb tip
    project inside the image, at least 8 px apart."""
    width, height = size
    while True:
        rot = Rotation.from_rotvec(rng.normal(0, 0.6, 3)).as_matrix()
        wrist = np.array([rng.uniform(-40, 40), rng.uniform(-30, 30), depth + rng.uniform(-50, 50)])
        joints = REST_JOINTS_MM @ rot.T + wrist
        uv = project(joints[[0, 4]], intrinsics)
        inside = np.all((uv >= 3) & (uv <= [width - 4, height - 4]))
        if inside and np.linalg.norm(uv[0] - uv[1]) >= 8:
            return rot, joints


# ----------------------------------------------------------------------------- HO-3D

HO3D_SEQUENCES = {"ABF10": 5, "BB12": 5, "MC2": 5}  # Mini-HO-3D test, val, train
HO3D_UNANNOTATED = ("BB12", "0002")
HO3D_SIZE = (96, 72)
HO3D_INTRINSICS = np.array([[92.1, 0.0, 48.3], [0.0, 91.8, 35.6], [0.0, 0.0, 1.0]])
#: A Mini-HO-3D train sequence with HO-3D v3's quirks (made with its own random stream, so the
#: other sequences and the InterHand fixture keep their bytes): frames whose meta values are all
#: None (camMat too), frames with an image but no meta file (as ABF12 0678-0728 in the real v3
#: release), and a frame whose hand keys alone are None. Its camera differs from
#: HO3D_INTRINSICS, so intrinsics borrowed from another sequence would show.
HO3D_QUIRKS_SEQUENCE = "ABF12"
HO3D_QUIRKS_FRAMES = 8
HO3D_QUIRKS_INTRINSICS = np.array([[88.4, 0.0, 47.1], [0.0, 88.9, 36.2], [0.0, 0.0, 1.0]])
HO3D_ALL_NONE = ("0000", "0004")
HO3D_NO_META = ("0002", "0003")
HO3D_NO_HAND = ("0006",)


def write_ho3d(root: Path, rng: np.random.Generator) -> None:
    for seq, num_frames in HO3D_SEQUENCES.items():
        for frame in range(num_frames):
            name = f"{frame:04d}"
            meta = write_ho3d_frame(root, seq, name, HO3D_INTRINSICS, rng)
            if (seq, name) == HO3D_UNANNOTATED:
                meta.update(handPose=None, handTrans=None, handBeta=None, handJoints3D=None)
            write_ho3d_meta(root, seq, name, meta)
    write_ho3d_quirks(root, np.random.default_rng([SEED, 1]))
    truth = {
        "rest_joints_mm": REST_JOINTS_MM.tolist(),
        "unannotated": list(HO3D_UNANNOTATED),
        "quirks_sequence": HO3D_QUIRKS_SEQUENCE,
        "quirks_K": HO3D_QUIRKS_INTRINSICS.tolist(),
        "all_none_meta": list(HO3D_ALL_NONE),
        "no_meta_file": list(HO3D_NO_META),
        "no_hand": list(HO3D_NO_HAND),
    }
    (root / "fixture_truth.json").write_text(json.dumps(truth, indent=1))


def write_ho3d_quirks(root: Path, rng: np.random.Generator) -> None:
    seq = HO3D_QUIRKS_SEQUENCE
    for frame in range(HO3D_QUIRKS_FRAMES):
        name = f"{frame:04d}"
        # every frame shows a hand
        meta = write_ho3d_frame(root, seq, name, HO3D_QUIRKS_INTRINSICS, rng)
        if name in HO3D_NO_META:
            continue
        if name in HO3D_ALL_NONE:
            meta = dict.fromkeys(meta)
        if name in HO3D_NO_HAND:
            meta.update(handPose=None, handTrans=None, handBeta=None, handJoints3D=None)
        write_ho3d_meta(root, seq, name, meta)


def write_ho3d_frame(root: Path, seq: str, name: str, intrinsics: np.ndarray, rng) -> dict:
    """Save one marker image of a random hand; return its meta dict."""
    (root / "train" / seq / "rgb").mkdir(parents=True, exist_ok=True)
    rot, joints = posed_hand(rng, intrinsics, HO3D_SIZE, depth=600.0)
    uv = project(joints[[0, 4]], intrinsics)
    image = marker_image(*HO3D_SIZE, uv[0], uv[1])
    image.save(root / "train" / seq / "rgb" / f"{name}.jpg", quality=95)
    return ho3d_meta(rot, joints, rng, intrinsics)


def write_ho3d_meta(root: Path, seq: str, name: str, meta: dict) -> None:
    (root / "train" / seq / "meta").mkdir(parents=True, exist_ok=True)
    with (root / "train" / seq / "meta" / f"{name}.pkl").open("wb") as file:
        pickle.dump(meta, file, protocol=2)


def ho3d_meta(
    rot: np.ndarray, joints_mm: np.ndarray, rng: np.random.Generator, intrinsics: np.ndarray
) -> dict:
    """HO-3D's meta dict: OpenGL-style camera frame, metres, MANO 16-plus-tips joint order."""
    joints_gl = joints_mm @ OPENGL.T / 1000.0  # (21, 3) handkit order
    mano_order = np.empty_like(joints_gl)
    mano_order[list(MANO_TO_OUTPUT_ORDER)] = joints_gl
    pose = np.concatenate([Rotation.from_matrix(OPENGL @ rot).as_rotvec(), np.zeros(45)])
    return {
        "handPose": pose.astype(np.float32),
        "handTrans": joints_gl[0].astype(np.float32),
        "handBeta": rng.normal(0, 0.5, 10).astype(np.float32),
        "handJoints3D": mano_order.astype(np.float32),
        "camMat": intrinsics.astype(np.float32),
        "objName": "003_cracker_box",
        "objLabel": 1,
        "objRot": rng.normal(0, 1, (3, 1)).astype(np.float32),
        "objTrans": np.array([0.0, 0.0, -0.6], dtype=np.float32),
    }


# ----------------------------------------------------------------------------- InterHand2.6M

IH_SIZE = (64, 64)
IH_FOCAL, IH_PRINCPT = (120.0, 121.0), (31.5, 32.5)
#: official split -> (capture, seq_name, cameras, first frame_idx, frames, hand_type per frame)
IH_VIDEOS = {
    "val": [
        (0, "0000_right_rom", ("400002", "400004"), 100, 5, "right"),
        (0, "0001_right_short", ("400002",), 200, 2, "right"),
        (1, "0002_two_hands", ("400002",), 100, 5, "interacting"),
        (1, "0003_right_then_left", ("400002",), 200, 5, "right,right,right,right,left"),
        (1, "0004_right_rom", ("400006",), 300, 5, "right"),
    ],
    "test": [
        (0, "0100_right_a", ("400002", "400004"), 100, 4, "right"),
        (0, "0101_right_b", ("400002",), 200, 4, "right"),
        (0, "0102_right_c", ("400002",), 300, 4, "right"),
        (0, "0103_left", ("400002",), 400, 4, "left"),
    ],
}
#: Special frames (frame_idx) of val Capture0/0000_right_rom: no right-hand MANO fit, invalid
#: wrist, invalid thumb tip.
IH_NO_MANO, IH_BAD_WRIST, IH_BAD_THUMB_TIP = 106, 109, 103


def camera_looking_at(target: np.ndarray, position: np.ndarray) -> np.ndarray:
    """camrot R (rows = camera axes in world) with z towards ``target`` and det +1."""
    z = (target - position) / np.linalg.norm(target - position)
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z])


def write_interhand(root: Path, rng: np.random.Generator) -> None:
    hands_mean = rng.normal(0, 0.15, 45)
    for split, videos in IH_VIDEOS.items():
        write_interhand_split(root, split, videos, hands_mean, rng)
    truth = {"rest_joints_mm": REST_JOINTS_MM.tolist(), "hands_mean": hands_mean.tolist(),
             "no_mano_frame": IH_NO_MANO, "bad_wrist_frame": IH_BAD_WRIST,
             "bad_thumb_tip_frame": IH_BAD_THUMB_TIP}
    (root / "fixture_truth.json").write_text(json.dumps(truth, indent=1))


def write_interhand_split(root, split, videos, hands_mean, rng) -> None:
    all_cams = sorted({c for v in videos for c in v[2]})
    cameras, joints_3d, mano, images, annotations = {}, {}, {}, [], []
    for capture in sorted({v[0] for v in videos}):
        positions = {c: np.array([900.0 * np.sin(a), 200.0, -900.0 * np.cos(a)])
                     for c, a in zip(all_cams, np.linspace(-0.6, 0.6, len(all_cams)), strict=True)}
        rots = {c: camera_looking_at(np.zeros(3), p) for c, p in positions.items()}
        cameras[str(capture)] = {
            "campos": {c: p.round(4).tolist() for c, p in positions.items()},
            "camrot": {c: r.round(8).tolist() for c, r in rots.items()},
            "focal": {c: list(IH_FOCAL) for c in all_cams},
            "princpt": {c: list(IH_PRINCPT) for c in all_cams},
        }
        joints_3d[str(capture)], mano[str(capture)] = {}, {}
    for capture, seq, cams, first, num_frames, hand_types in videos:
        types = hand_types.split(",") if "," in hand_types else [hand_types] * num_frames
        for k in range(num_frames):
            frame_idx = first + 3 * k
            world, valid, params = interhand_frame(types[k], hands_mean, rng)
            if split == "val" and seq == "0000_right_rom":
                valid[INTERHAND_OF_HANDKIT[0]] *= frame_idx != IH_BAD_WRIST
                valid[INTERHAND_OF_HANDKIT[4]] *= frame_idx != IH_BAD_THUMB_TIP
                if frame_idx == IH_NO_MANO:
                    params["right"] = None
            joints_3d[str(capture)][str(frame_idx)] = {
                "world_coord": world.round(4).tolist(), "joint_valid": [[int(v)] for v in valid],
                "hand_type": types[k], "hand_type_valid": 1,
            }
            mano[str(capture)][str(frame_idx)] = params
            for cam in cams:
                image_id = len(images)
                file_name = f"Capture{capture}/{seq}/cam{cam}/image{frame_idx:05d}.jpg"
                images.append({"id": image_id, "file_name": file_name, "width": IH_SIZE[0],
                               "height": IH_SIZE[1], "capture": capture, "subject": capture,
                               "seq_name": seq, "camera": cam, "frame_idx": frame_idx})
                annotations.append({"id": image_id, "image_id": image_id,
                                    "bbox": [0.0, 0.0, float(IH_SIZE[0]), float(IH_SIZE[1])],
                                    "joint_valid": [[int(v)] for v in valid],
                                    "hand_type": types[k], "hand_type_valid": 1})
                save_interhand_image(root / "images" / split / file_name, world,
                                     cameras[str(capture)], cam)
    order = rng.permutation(len(images))  # data.json is not sorted by video or frame
    data = {"images": [images[i] for i in order], "annotations": annotations}
    folder = root / "annotations" / split
    folder.mkdir(parents=True, exist_ok=True)
    for kind, content in (("data", data), ("camera", cameras), ("joint_3d", joints_3d),
                          ("MANO_NeuralAnnot", mano)):
        (folder / f"InterHand2.6M_{split}_{kind}.json").write_text(json.dumps(content))


def interhand_frame(hand_type: str, hands_mean: np.ndarray, rng: np.random.Generator):
    """World joints (42, 3) mm, joint_valid (42,) and MANO fits {right, left} of one frame."""
    world = np.zeros((42, 3))
    valid = np.zeros(42, dtype=int)
    params = {"right": None, "left": None}
    for side, offset in (("right", 0), ("left", 21)):
        if hand_type not in (side, "interacting"):
            continue
        rot = Rotation.from_rotvec(rng.normal(0, 0.6, 3)).as_matrix()
        wrist = rng.uniform(-20, 20, 3)
        world[offset + np.array(INTERHAND_OF_HANDKIT)] = REST_JOINTS_MM @ rot.T + wrist
        valid[offset:offset + 21] = 1
        pose = np.concatenate([Rotation.from_matrix(rot).as_rotvec(), -hands_mean])
        params[side] = {"pose": pose.round(6).tolist(),
                        "shape": rng.normal(0, 0.5, 10).round(4).tolist(),
                        "trans": (wrist / 1000.0).round(6).tolist()}
    return world, valid, params


def save_interhand_image(path: Path, world: np.ndarray, camera: dict, cam: str) -> None:
    rot, pos = np.array(camera["camrot"][cam]), np.array(camera["campos"][cam])
    intrinsics = np.array([[IH_FOCAL[0], 0, IH_PRINCPT[0]], [0, IH_FOCAL[1], IH_PRINCPT[1]],
                           [0, 0, 1]])
    wrist_and_thumb = world[[INTERHAND_OF_HANDKIT[0], INTERHAND_OF_HANDKIT[4]]]
    uv = project((wrist_and_thumb - pos) @ rot.T, intrinsics)
    path.parent.mkdir(parents=True, exist_ok=True)
    marker_image(*IH_SIZE, uv[0], uv[1]).save(path, quality=95)


def main() -> None:
    rng = np.random.default_rng(SEED)
    for name, writer in (("ho3d_fixture", write_ho3d), ("interhand_fixture", write_interhand)):
        shutil.rmtree(OUT / name, ignore_errors=True)
        writer(OUT / name, rng)
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
