"""Draws a synthetic speaker's face, frame by frame.

The static parts (background, shoulders, hair, ears, shaded skin, nose, brows, beard, wrinkles) are drawn once
per clip; each frame adds the eyes (open or blinking), the mouth (opening with the voice's loudness), glasses,
then small head motion and lighting drift. Faces are drawn to look like faces to a face detector.
"""

from __future__ import annotations

import cv2
import numpy as np

from s2f.synth.attributes import Speaker

AA = cv2.LINE_AA
BACKGROUNDS = [(92, 120, 160), (170, 180, 190), (120, 150, 110), (200, 185, 160),
               (70, 80, 95), (150, 120, 140), (205, 205, 200), (95, 140, 150)]
SHIRTS = [(40, 60, 110), (150, 40, 40), (60, 60, 60), (220, 220, 215), (40, 100, 70), (120, 90, 60)]
IRISES = [(70, 45, 25), (60, 110, 160), (80, 120, 70), (40, 30, 25)]


def _mix(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return (1 - t) * np.asarray(a, float) + t * np.asarray(b, float)


def skin_rgb(tone: float) -> np.ndarray:
    """Skin colour from tone 0 (light) to 1 (dark)."""
    return _mix((238, 206, 182), (88, 56, 38), tone)


def hair_rgb(color: float, grey: float) -> np.ndarray:
    """Hair colour: black -> brown -> blond by `color`, then towards grey by `grey`."""
    base = _mix((28, 24, 22), (112, 76, 44), color / 0.5) if color < 0.5 else _mix((112, 76, 44), (222, 192, 122),
                                                                                  (color - 0.5) / 0.5)
    return _mix(base, (185, 185, 182), grey)


def _c(rgb: np.ndarray) -> tuple[int, int, int]:
    return tuple(int(round(v)) for v in np.clip(rgb, 0, 255))


class FaceRenderer:
    """Renders frames of one speaker at `size` x `size` pixels (RGB, uint8)."""

    def __init__(self, speaker: Speaker, size: int):
        self.sp, self.S = speaker, size
        S = size
        self.cx, self.cy = S * 0.5, S * 0.46
        self.a, self.b = speaker.face_width * S, speaker.face_height * S
        self.skin = skin_rgb(speaker.skin_tone)
        self.hair = hair_rgb(speaker.hair_color, speaker.hair_grey)
        self.eye_y = self.cy - 0.08 * self.b
        self.eye_dx = speaker.eye_spacing * self.a
        self.mouth_y = self.cy + 0.52 * self.b
        self.mouth_w = speaker.mouth_width * self.a
        self.lip = max(2.0, speaker.lip_thickness * 2 * self.a)
        self.line = max(1, round(S / 128))
        self.base = self._draw_static()

    # ---- static layer -------------------------------------------------------------------------------------
    def _face_contour(self, grow: float = 1.0) -> np.ndarray:
        t = np.linspace(0, 2 * np.pi, 96, endpoint=False)
        lower = np.clip(np.sin(t), 0, None)
        x = self.cx + grow * self.a * np.cos(t) * (1 - (1 - self.sp.jaw) * lower**2)
        y = self.cy + grow * self.b * np.sin(t)
        return np.stack([x, y], 1).round().astype(np.int32)

    def _draw_static(self) -> np.ndarray:
        sp, S, cx, cy, a, b = self.sp, self.S, self.cx, self.cy, self.a, self.b
        yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
        bg = np.asarray(BACKGROUNDS[sp.background], np.float32)
        img = bg[None, None, :] * (1.08 - 0.16 * yy / S)[..., None]
        img = np.ascontiguousarray(np.clip(img, 0, 255).astype(np.uint8))

        cv2.ellipse(img, (int(cx), int(S * 1.08)), (int(S * 0.42), int(S * 0.24)), 0, 0, 360,
                    SHIRTS[(sp.background + sp.iris) % len(SHIRTS)], -1, AA)
        cv2.rectangle(img, (int(cx - 0.42 * a), int(cy + 0.5 * b)), (int(cx + 0.42 * a), int(S * 0.9)),
                      _c(self.skin * 0.82), -1)
        if sp.hair_length > 0.5:  # long hair falls behind the head onto the shoulders
            cv2.ellipse(img, (int(cx), int(cy + 0.15 * b)), (int(1.28 * a), int(b * (0.85 + 0.55 * sp.hair_length))),
                        0, 0, 360, _c(self.hair * 0.85), -1, AA)
        for side in (-1, 1):
            ear = (int(cx + side * 0.97 * a), int(cy + 0.02 * b))
            cv2.ellipse(img, ear, (int(0.14 * a), int(0.22 * b)), 0, 0, 360, _c(self.skin * 0.9), -1, AA)
            cv2.ellipse(img, ear, (int(0.06 * a), int(0.13 * b)), 0, 0, 360, _c(self.skin * 0.7), -1, AA)

        face = np.zeros((S, S), np.uint8)
        cv2.fillPoly(face, [self._face_contour()], 255, AA)
        shade = 1.06 - 0.24 * ((xx - cx) / a) ** 2 - 0.10 * np.clip((yy - cy) / b, 0, None) ** 2
        skin = self.skin[None, None, :] * shade[..., None]
        alpha = (face.astype(np.float32) / 255)[..., None]
        img = (img * (1 - alpha) + skin * alpha).clip(0, 255).astype(np.uint8)

        self._draw_hair_cap(img, xx, yy)
        self._draw_nose(img)
        self._draw_brows(img)
        if sp.age >= 50:
            self._draw_wrinkles(img)
        if sp.beard:
            self._draw_beard(img, face, xx, yy)
        return img

    def _draw_hair_cap(self, img: np.ndarray, xx: np.ndarray, yy: np.ndarray) -> None:
        sp, cx, cy, a, b = self.sp, self.cx, self.cy, self.a, self.b
        if sp.hair_length <= 0.02:
            return
        side = np.clip((np.abs(xx - cx) / a - 0.72) / 0.3, 0, 1)
        drop = (0.15 + 0.45 * sp.hair_length) * b
        hairline = cy - 0.58 * b + 0.08 * b * ((xx - cx) / a) ** 2 + drop * side * side * (3 - 2 * side)
        outer = ((xx - cx) / (1.09 * a)) ** 2 + ((yy - (cy - 0.05 * b)) / (1.07 * b)) ** 2 <= 1
        mask = outer & (yy < hairline)
        texture = 0.88 + 0.12 * np.sin(xx * 0.9 + 0.35 * yy) * np.sin(yy * 0.21)
        hair = self.hair[None, None, :] * texture[..., None]
        img[mask] = hair[mask].clip(0, 255).astype(np.uint8)

    def _draw_nose(self, img: np.ndarray) -> None:
        cx, a, b = self.cx, self.a, self.b
        tip = self.cy + 0.24 * b
        half = self.sp.nose_width * a
        dark = _c(self.skin * 0.5)
        cv2.line(img, (int(cx - 0.04 * a), int(self.eye_y + 0.08 * b)), (int(cx - 0.5 * half), int(tip - 0.03 * b)),
                 _c(self.skin * 0.78), self.line, AA)
        cv2.ellipse(img, (int(cx), int(tip + 0.02 * b)), (int(half * 1.05), int(0.05 * b)), 0, 15, 165,
                    _c(self.skin * 0.7), self.line, AA)
        for side in (-1, 1):
            cv2.ellipse(img, (int(cx + side * 0.55 * half), int(tip + 0.035 * b)), (max(1, int(0.3 * half)),
                        max(1, int(0.025 * b))), 0, 0, 360, dark, -1, AA)

    def _draw_brows(self, img: np.ndarray) -> None:
        colour = _c(self.hair * 0.8 if self.sp.hair_grey < 0.6 else self.hair * 0.6)
        thick = max(2, round(self.S / 70))
        for side in (-1, 1):
            centre = (int(self.cx + side * self.eye_dx), int(self.eye_y + 0.02 * self.b))
            cv2.ellipse(img, centre, (int(0.27 * self.a), int(0.13 * self.a)), 0, 205, 335, colour, thick, AA)

    def _draw_wrinkles(self, img: np.ndarray) -> None:
        cx, cy, a, b = self.cx, self.cy, self.a, self.b
        shade = _c(self.skin * 0.8)
        for k in range(1 + (self.sp.age - 50) // 10):
            y = int(cy - 0.42 * b + k * 0.07 * b)
            cv2.ellipse(img, (int(cx), y + int(0.2 * b)), (int(0.45 * a), int(0.2 * b)), 0, 235, 305, shade,
                        1, AA)
        for side in (-1, 1):
            cv2.line(img, (int(cx + side * (self.sp.nose_width * a + 0.08 * a)), int(cy + 0.3 * b)),
                     (int(cx + side * (self.mouth_w + 0.08 * a)), int(self.mouth_y + 0.05 * b)), shade, 1, AA)

    def _draw_beard(self, img: np.ndarray, face: np.ndarray, xx: np.ndarray, yy: np.ndarray) -> None:
        cx, b = self.cx, self.b
        mask = (face > 128) & (yy > self.mouth_y - 0.14 * b)
        hair = self.hair[None, None, :] * (0.85 + 0.15 * np.sin(xx * 1.7) * np.cos(yy * 1.3))[..., None]
        img[mask] = (0.2 * img[mask] + 0.8 * hair[mask]).clip(0, 255).astype(np.uint8)
        cv2.ellipse(img, (int(cx), int(self.mouth_y - self.lip - 0.03 * b)), (int(self.mouth_w * 1.05),
                    int(0.05 * b)), 0, 0, 360, _c(self.hair * 0.9), -1, AA)

    # ---- dynamic parts ------------------------------------------------------------------------------------
    def _draw_eyes(self, img: np.ndarray, eyes_open: bool, gaze: float) -> None:
        a, ey = self.a, int(self.eye_y)
        axes = (int(0.2 * a), max(2, int(0.085 * a)))
        lid = _c(self.skin * 0.45)
        for side in (-1, 1):
            ex = int(self.cx + side * self.eye_dx)
            if not eyes_open:
                cv2.ellipse(img, (ex, ey), axes, 0, 0, 180, lid, self.line + 1, AA)
                continue
            cv2.ellipse(img, (ex, ey), axes, 0, 0, 360, (246, 245, 240), -1, AA)
            ix = int(ex + gaze * 0.06 * a)
            cv2.circle(img, (ix, ey), max(2, int(0.08 * a)), IRISES[self.sp.iris], -1, AA)
            cv2.circle(img, (ix, ey), max(1, int(0.038 * a)), (12, 12, 12), -1, AA)
            cv2.circle(img, (ix + max(1, int(0.03 * a)), ey - max(1, int(0.03 * a))), max(1, int(0.015 * a)),
                       (255, 255, 255), -1, AA)
            cv2.ellipse(img, (ex, ey), axes, 0, 180, 360, lid, self.line + 1, AA)

    def _draw_mouth(self, img: np.ndarray, opening: float) -> None:
        cx, my, w, lip = int(self.cx), int(self.mouth_y), self.mouth_w, self.lip
        gap = opening * 0.45 * w
        lips = _c(_mix(self.skin, (168, 58, 68), 0.55))
        cv2.ellipse(img, (cx, my), (int(w), int(lip + gap * 0.5)), 0, 180, 360, lips, -1, AA)
        cv2.ellipse(img, (cx, my), (int(w * 0.92), int(lip * 1.3 + gap)), 0, 0, 180, lips, -1, AA)
        if gap >= 1.5:
            cv2.ellipse(img, (cx, my), (int(w * 0.82), int(gap * 0.75)), 0, 0, 360, (66, 18, 24), -1, AA)
            if opening > 0.35:
                cv2.ellipse(img, (cx, my - int(gap * 0.45)), (int(w * 0.6), max(1, int(gap * 0.25))), 0, 0, 360,
                            (235, 232, 222), -1, AA)
        else:
            cv2.line(img, (int(cx - w * 0.95), my), (int(cx + w * 0.95), my), (80, 30, 35), self.line, AA)

    def _draw_glasses(self, img: np.ndarray) -> None:
        a, ey = self.a, int(self.eye_y)
        frame, thick, r = (30, 30, 36), max(2, round(self.S / 100)), int(0.3 * a)
        for side in (-1, 1):
            ex = int(self.cx + side * self.eye_dx)
            cv2.circle(img, (ex, ey), r, frame, thick, AA)
            cv2.line(img, (ex + side * r, ey), (int(self.cx + side * 0.97 * a), ey - 2), frame, thick, AA)
        cv2.line(img, (int(self.cx - self.eye_dx + r), ey), (int(self.cx + self.eye_dx - r), ey), frame, thick, AA)

    def frame(self, opening: float, eyes_open: bool = True, gaze: float = 0.0, dx: float = 0.0, dy: float = 0.0,
              angle: float = 0.0, light: float = 1.0) -> np.ndarray:
        """One frame: mouth `opening` in [0, 1], head moved by (dx, dy) px and `angle` degrees, lit x `light`."""
        img = self.base.copy()
        self._draw_eyes(img, eyes_open, gaze)
        self._draw_mouth(img, float(np.clip(opening, 0.0, 1.0)))
        if self.sp.glasses:
            self._draw_glasses(img)
        m = cv2.getRotationMatrix2D((self.cx, self.cy + 0.6 * self.b), angle, 1.0)
        m[:, 2] += (dx, dy)
        img = cv2.warpAffine(img, m, (self.S, self.S), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if light != 1.0:
            img = cv2.convertScaleAbs(img, alpha=light)
        return img
