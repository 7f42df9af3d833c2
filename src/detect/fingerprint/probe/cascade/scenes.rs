//! The pictures a cascade is run on, drawn at run time (nothing real is used or stored), each
//! with the boxes of what is in it: frontal faces and cat faces at two sizes and three tones,
//! profiles facing either way, standing people (whole, upper and lower body), number plates,
//! and noise.
//!
//! Cascades were trained on photographs, so the drawings are shaded the way light falls on a
//! face (darker eye sockets and cheeks' edges, a lighter nose bridge) and softened with a
//! Gaussian blur as a lens would; flat cartoons with hard edges set off no face cascade.

use super::super::images::Rng;
use super::eval::{Gray, Rect};

/// What a region of a probe picture shows.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// A whole frontal face.
    Face,
    /// One eye with its brow.
    Eye,
    /// A mouth.
    Mouth,
    /// A face seen from the side.
    Profile,
    /// A whole standing person.
    Body,
    /// Head and shoulders.
    UpperBody,
    /// Hips and legs.
    LowerBody,
    /// A cat's face (ears, slit eyes, muzzle).
    CatFace,
    /// A number plate (a bordered strip of characters).
    Plate,
}

impl Part {
    /// The words used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Face => "frontal faces",
            Part::Eye => "eyes",
            Part::Mouth => "mouths",
            Part::Profile => "profile faces",
            Part::Body => "whole bodies",
            Part::UpperBody => "upper bodies",
            Part::LowerBody => "lower bodies",
            Part::CatFace => "cat faces",
            Part::Plate => "number plates",
        }
    }
}

/// One probe picture and the boxes of what it shows.
pub struct Scene {
    /// Short name for reports.
    pub name: &'static str,
    /// The picture, grey.
    pub image: Gray,
    /// What is where.
    pub parts: Vec<(Part, Rect)>,
}

/// A grey drawing surface in floating point, painted shape by shape, then blurred.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<f32>,
}

impl Canvas {
    fn new(w: usize, h: usize, v: f64) -> Canvas {
        Canvas {
            w,
            h,
            px: vec![v as f32; w * h],
        }
    }

    /// Paint where `inside(x, y)` holds, with 4×4 samples a pixel for smooth edges, over the
    /// bounding box `(x0, y0, x1, y1)`.
    fn paint(&mut self, bbox: (f64, f64, f64, f64), v: f64, inside: impl Fn(f64, f64) -> bool) {
        let x0 = (bbox.0.floor().max(0.0)) as usize;
        let y0 = (bbox.1.floor().max(0.0)) as usize;
        let x1 = (bbox.2.ceil().max(0.0) as usize).min(self.w);
        let y1 = (bbox.3.ceil().max(0.0) as usize).min(self.h);
        for y in y0..y1 {
            for x in x0..x1 {
                let mut n = 0;
                for sy in 0..4 {
                    for sx in 0..4 {
                        if inside(
                            x as f64 + (sx as f64 + 0.5) / 4.0,
                            y as f64 + (sy as f64 + 0.5) / 4.0,
                        ) {
                            n += 1;
                        }
                    }
                }
                if n > 0 {
                    let a = n as f32 / 16.0;
                    let p = &mut self.px[y * self.w + x];
                    *p = *p * (1.0 - a) + v as f32 * a;
                }
            }
        }
    }

    fn ellipse(&mut self, (cx, cy): (f64, f64), (rx, ry): (f64, f64), v: f64) {
        let (rx, ry) = (rx.max(0.5), ry.max(0.5));
        self.paint((cx - rx, cy - ry, cx + rx, cy + ry), v, |x, y| {
            let (dx, dy) = ((x - cx) / rx, (y - cy) / ry);
            dx * dx + dy * dy <= 1.0
        });
    }

    fn rect(&mut self, (x, y, w, h): (f64, f64, f64, f64), v: f64) {
        self.paint((x, y, x + w, y + h), v, |px, py| {
            px >= x && px < x + w && py >= y && py < y + h
        });
    }

    fn triangle(&mut self, p: [(f64, f64); 3], v: f64) {
        let xs = p.map(|q| q.0);
        let ys = p.map(|q| q.1);
        let bbox = (
            xs.iter().copied().fold(f64::MAX, f64::min),
            ys.iter().copied().fold(f64::MAX, f64::min),
            xs.iter().copied().fold(f64::MIN, f64::max),
            ys.iter().copied().fold(f64::MIN, f64::max),
        );
        let side = |a: (f64, f64), b: (f64, f64), x: f64, y: f64| {
            (b.0 - a.0) * (y - a.1) - (b.1 - a.1) * (x - a.0)
        };
        self.paint(bbox, v, |x, y| {
            let s = [
                side(p[0], p[1], x, y),
                side(p[1], p[2], x, y),
                side(p[2], p[0], x, y),
            ];
            s.iter().all(|&d| d >= 0.0) || s.iter().all(|&d| d <= 0.0)
        });
    }

    /// A line `width` pixels wide (at least one).
    fn line(&mut self, a: (f64, f64), b: (f64, f64), width: f64, v: f64) {
        let r = width.max(1.0) / 2.0;
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = (dx * dx + dy * dy).max(1e-9);
        let bbox = (
            a.0.min(b.0) - r - 1.0,
            a.1.min(b.1) - r - 1.0,
            a.0.max(b.0) + r + 1.0,
            a.1.max(b.1) + r + 1.0,
        );
        self.paint(bbox, v, |x, y| {
            let t = (((x - a.0) * dx + (y - a.1) * dy) / len2).clamp(0.0, 1.0);
            let (px, py) = (a.0 + t * dx - x, a.1 + t * dy - y);
            px * px + py * py <= r * r
        });
    }

    /// Separable Gaussian blur, edges repeated; then rounded to bytes.
    fn finish(self, sigma: f64) -> Gray {
        let r = (sigma * 3.0).ceil().max(1.0) as i64;
        let k: Vec<f32> = (-r..=r)
            .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp() as f32)
            .collect();
        let total: f32 = k.iter().sum();
        let (w, h) = (self.w as i64, self.h as i64);
        let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
            let mut out = vec![0f32; src.len()];
            for y in 0..h {
                for x in 0..w {
                    let mut s = 0f32;
                    for (j, kv) in k.iter().enumerate() {
                        let o = j as i64 - r;
                        let (sx, sy) = if horizontal {
                            ((x + o).clamp(0, w - 1), y)
                        } else {
                            (x, (y + o).clamp(0, h - 1))
                        };
                        s += kv * src[(sy * w + sx) as usize];
                    }
                    out[(y * w + x) as usize] = s / total;
                }
            }
            out
        };
        let blurred = pass(&pass(&self.px, true), false);
        Gray {
            width: self.w,
            height: self.h,
            pixels: blurred
                .iter()
                .map(|v| v.round().clamp(0.0, 255.0) as u8)
                .collect(),
        }
    }
}

fn rect((x, y, w, h): (f64, f64, f64, f64)) -> Rect {
    Rect {
        x: x.round() as i64,
        y: y.round() as i64,
        w: w.round().max(1.0) as i64,
        h: h.round().max(1.0) as i64,
    }
}

/// Skin (or fur), hair and background greys: light skin on mid grey, dark skin on light grey,
/// very light skin on dark grey.
const TONES: [(f64, f64, f64); 3] = [
    (170.0, 50.0, 120.0),
    (120.0, 30.0, 180.0),
    (200.0, 90.0, 60.0),
];

fn face_scene(s: f64, (skin, hair, bg): (f64, f64, f64)) -> Scene {
    let (w, h) = ((s * 1.6).round() as usize, (s * 1.8).round() as usize);
    let mut c = Canvas::new(w, h, bg);
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
    let (rx, ry) = (s * 0.40, s * 0.52);
    c.ellipse((cx, cy - ry * 0.2), (rx * 1.08, ry * 0.9), hair);
    c.ellipse((cx, cy + ry * 0.85), (rx * 0.45, ry * 0.5), skin * 0.8);
    c.ellipse((cx, cy), (rx, ry), skin);
    for side in [-1.0, 1.0] {
        c.ellipse(
            (cx + side * rx * 0.85, cy + ry * 0.1),
            (rx * 0.2, ry * 0.7),
            skin * 0.8,
        );
    }
    c.ellipse((cx, cy - ry * 0.75), (rx * 0.9, ry * 0.3), hair);
    let (ey, ed) = (cy - ry * 0.12, rx * 0.42);
    let mut parts = Vec::new();
    for side in [-1.0, 1.0] {
        let ex = cx + side * ed;
        c.ellipse((ex, ey), (rx * 0.30, ry * 0.16), skin * 0.72);
        c.ellipse((ex, ey - ry * 0.2), (rx * 0.28, ry * 0.05), hair);
        c.ellipse((ex, ey), (rx * 0.18, ry * 0.07), 200.0);
        c.ellipse((ex, ey), (rx * 0.08, ry * 0.07), 40.0);
        parts.push((
            Part::Eye,
            rect((ex - rx * 0.3, ey - ry * 0.25, rx * 0.6, ry * 0.41)),
        ));
    }
    c.ellipse((cx, cy + ry * 0.05), (rx * 0.12, ry * 0.28), skin * 1.1);
    for side in [-1.0, 1.0] {
        c.ellipse(
            (cx + side * rx * 0.1, cy + ry * 0.3),
            (rx * 0.05, ry * 0.03),
            skin * 0.5,
        );
    }
    c.ellipse((cx, cy + ry * 0.55), (rx * 0.32, ry * 0.07), skin * 0.55);
    parts.push((Part::Face, rect((cx - rx, cy - ry, 2.0 * rx, 2.0 * ry))));
    parts.push((
        Part::Mouth,
        rect((cx - rx * 0.4, cy + ry * 0.42, rx * 0.8, ry * 0.26)),
    ));
    Scene {
        name: "frontal face",
        image: c.finish(s / 60.0),
        parts,
    }
}

/// A head seen from the side, facing right (`facing = 1.0`) or left (`-1.0`).
fn profile_scene(s: f64, facing: f64, (skin, hair, bg): (f64, f64, f64)) -> Scene {
    let f = facing;
    let (w, h) = ((s * 1.6).round() as usize, (s * 1.8).round() as usize);
    let mut c = Canvas::new(w, h, bg);
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
    let (rx, ry) = (s * 0.36, s * 0.5);
    c.ellipse(
        (cx - f * rx * 0.15, cy + ry * 0.95),
        (rx * 0.5, ry * 0.5),
        skin * 0.75,
    );
    c.ellipse(
        (cx - f * rx * 0.1, cy - ry * 0.05),
        (rx * 1.1, ry * 0.95),
        hair,
    );
    c.ellipse(
        (cx + f * rx * 0.25, cy + ry * 0.1),
        (rx * 0.8, ry * 0.8),
        skin,
    );
    c.ellipse(
        (cx - f * rx * 0.25, cy + ry * 0.1),
        (rx * 0.14, ry * 0.2),
        skin * 0.8,
    );
    let front = cx + f * rx;
    c.ellipse(
        (front - f * rx * 0.3, cy - ry * 0.1),
        (rx * 0.22, ry * 0.12),
        skin * 0.7,
    );
    c.ellipse(
        (front - f * rx * 0.32, cy - ry * 0.26),
        (rx * 0.22, ry * 0.05),
        hair,
    );
    c.ellipse(
        (front - f * rx * 0.22, cy - ry * 0.1),
        (rx * 0.06, ry * 0.05),
        30.0,
    );
    c.triangle(
        [
            (front - f * rx * 0.12, cy - ry * 0.15),
            (front + f * rx * 0.28, cy + ry * 0.22),
            (front - f * rx * 0.05, cy + ry * 0.28),
        ],
        skin,
    );
    c.ellipse(
        (front - f * rx * 0.1, cy + ry * 0.45),
        (rx * 0.14, ry * 0.035),
        skin * 0.5,
    );
    c.ellipse(
        (front - f * rx * 0.15, cy + ry * 0.65),
        (rx * 0.22, ry * 0.2),
        skin,
    );
    Scene {
        name: "profile face",
        image: c.finish(s / 60.0),
        parts: vec![(
            Part::Profile,
            rect((cx - rx * 1.1, cy - ry, 2.3 * rx, 2.0 * ry)),
        )],
    }
}

/// A person standing, arms at the sides, `height` pixels tall.
fn body_scene(height: f64, (skin, shirt, trousers, hair, bg): (f64, f64, f64, f64, f64)) -> Scene {
    let (w, h) = (
        (height * 0.7).round() as usize,
        (height * 1.25).round() as usize,
    );
    let mut c = Canvas::new(w, h, bg);
    let cx = w as f64 / 2.0;
    let top = (h as f64 - height) / 2.0;
    let u = height / 8.0; // a head's height
    c.ellipse((cx, top + u * 0.5), (u * 0.38, u * 0.5), skin);
    c.ellipse((cx, top + u * 0.25), (u * 0.4, u * 0.28), hair);
    c.rect((cx - u * 0.15, top + u * 0.9, u * 0.3, u * 0.4), skin * 0.8);
    c.ellipse((cx, top + u * 1.55), (u, u * 0.4), shirt);
    c.rect((cx - u * 0.8, top + u * 1.5, u * 1.6, u * 2.4), shirt);
    for side in [-1.0, 1.0] {
        c.rect(
            (
                cx + side * u * 0.95 - u * 0.2,
                top + u * 1.5,
                u * 0.4,
                u * 2.3,
            ),
            shirt * 0.85,
        );
        c.ellipse(
            (cx + side * u * 0.95, top + u * 3.95),
            (u * 0.17, u * 0.25),
            skin,
        );
        c.rect(
            (
                cx + side * u * 0.4 - u * 0.3,
                top + u * 3.8,
                u * 0.6,
                u * 3.9,
            ),
            trousers,
        );
        c.ellipse(
            (cx + side * u * 0.45, top + u * 7.8),
            (u * 0.35, u * 0.15),
            25.0,
        );
    }
    Scene {
        name: "standing person",
        image: c.finish(height / 200.0),
        parts: vec![
            (Part::Body, rect((cx - u * 1.2, top, 2.4 * u, height))),
            (
                Part::UpperBody,
                rect((cx - u * 1.3, top - u * 0.2, 2.6 * u, u * 2.4)),
            ),
            (
                Part::LowerBody,
                rect((cx - u, top + u * 3.6, 2.0 * u, u * 4.4)),
            ),
        ],
    }
}

/// A tabby cat's face: ears, forehead and cheek stripes, large slit eyes, muzzle, nose and
/// whiskers. (Without the stripes and the large eyes, human face cascades fire on it as often
/// as cat-face cascades do.)
fn cat_scene(s: f64, (fur, _, bg): (f64, f64, f64)) -> Scene {
    let (w, h) = ((s * 1.6).round() as usize, (s * 1.6).round() as usize);
    let mut c = Canvas::new(w, h, bg);
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0 + s * 0.08);
    let (rx, ry) = (s * 0.5, s * 0.42);
    for side in [-1.0, 1.0] {
        c.triangle(
            [
                (cx + side * rx * 0.25, cy - ry * 0.7),
                (cx + side * rx * 0.95, cy - ry * 0.35),
                (cx + side * rx * 0.8, cy - ry * 1.35),
            ],
            fur * 0.9,
        );
        c.triangle(
            [
                (cx + side * rx * 0.42, cy - ry * 0.72),
                (cx + side * rx * 0.82, cy - ry * 0.5),
                (cx + side * rx * 0.76, cy - ry * 1.1),
            ],
            fur * 0.6,
        );
    }
    c.ellipse((cx, cy), (rx, ry), fur);
    let stripe = (s / 40.0).floor().max(1.0);
    for k in [-1.0, 0.0, 1.0] {
        c.line(
            (cx + k * rx * 0.15, cy - ry * 0.95),
            (cx + k * rx * 0.1, cy - ry * 0.45),
            stripe,
            fur * 0.5,
        );
    }
    for side in [-1.0, 1.0] {
        for k in 0..3 {
            let k = k as f64;
            c.line(
                (cx + side * rx * 0.75, cy + ry * (-0.1 + 0.15 * k)),
                (cx + side * rx * 0.98, cy + ry * (-0.05 + 0.15 * k)),
                stripe,
                fur * 0.55,
            );
        }
    }
    for side in [-1.0, 1.0] {
        let (ex, ey) = (cx + side * rx * 0.4, cy - ry * 0.15);
        c.ellipse((ex, ey), (rx * 0.26, ry * 0.22), fur * 0.35);
        c.ellipse((ex, ey), (rx * 0.21, ry * 0.18), 190.0);
        c.ellipse((ex, ey), (rx * 0.05, ry * 0.17), 20.0);
    }
    c.ellipse((cx, cy + ry * 0.4), (rx * 0.3, ry * 0.25), fur);
    c.triangle(
        [
            (cx - rx * 0.09, cy + ry * 0.15),
            (cx + rx * 0.09, cy + ry * 0.15),
            (cx, cy + ry * 0.28),
        ],
        fur * 0.4,
    );
    for side in [-1.0, 1.0] {
        for k in [-1.0, 0.0, 1.0] {
            c.line(
                (cx + side * rx * 0.2, cy + ry * 0.4),
                (cx + side * rx * 1.1, cy + ry * (0.35 + 0.15 * k)),
                1.0,
                (fur * 1.4).min(255.0),
            );
        }
    }
    Scene {
        name: "cat face",
        image: c.finish(s / 40.0),
        parts: vec![(
            Part::CatFace,
            rect((cx - rx, cy - ry * 1.35, 2.0 * rx, ry * 2.35)),
        )],
    }
}

/// Segments (a–g, most significant first) of the seven-segment characters on the plate.
const GLYPHS: [u8; 8] = [
    0b1110111, 0b0100100, 0b1011101, 0b1101101, 0b0101110, 0b1111011, 0b0100101, 0b1111111,
];

/// A number plate `width` pixels wide: white, black border, eight dark characters.
fn plate_scene(width: f64, bg: f64) -> Scene {
    let ph = width * 0.22;
    let (w, h) = ((width * 1.4).round() as usize, (ph * 3.0).round() as usize);
    let mut c = Canvas::new(w, h, bg);
    let (x0, y0) = ((w as f64 - width) / 2.0, (h as f64 - ph) / 2.0);
    c.rect((x0, y0, width, ph), 20.0);
    let b = ph * 0.06;
    c.rect((x0 + b, y0 + b, width - 2.0 * b, ph - 2.0 * b), 235.0);
    let cw = (width - 4.0 * b) / 8.0;
    let (gw, gh, t) = (cw * 0.62, ph * 0.6, cw * 0.14);
    for (i, segs) in GLYPHS.iter().enumerate() {
        let gx = x0 + 2.0 * b + i as f64 * cw + (cw - gw) / 2.0;
        let gy = y0 + (ph - gh) / 2.0;
        let bars = [
            (gx, gy, gw, t),
            (gx, gy, t, gh / 2.0),
            (gx + gw - t, gy, t, gh / 2.0),
            (gx, gy + gh / 2.0 - t / 2.0, gw, t),
            (gx, gy + gh / 2.0, t, gh / 2.0),
            (gx + gw - t, gy + gh / 2.0, t, gh / 2.0),
            (gx, gy + gh - t, gw, t),
        ];
        for (s, bar) in bars.into_iter().enumerate() {
            if segs & (1 << (6 - s)) != 0 {
                c.rect(bar, 25.0);
            }
        }
    }
    Scene {
        name: "number plate",
        image: c.finish(width / 200.0),
        parts: vec![(Part::Plate, rect((x0, y0, width, ph)))],
    }
}

fn noise_scene(size: usize, seed: u64) -> Scene {
    let mut r = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1);
    Scene {
        name: "noise",
        image: Gray {
            width: size,
            height: size,
            pixels: (0..size * size).map(|_| (r.next() * 255.0) as u8).collect(),
        },
        parts: Vec::new(),
    }
}

/// The whole battery: frontal faces and cat faces at two sizes in three tones, profiles both
/// ways at two sizes, people at two heights in two builds, plates at two widths, and noise.
/// Drawn once per process (about 20 ms, half a megabyte): every cascade sees the same pictures.
pub fn battery() -> &'static [Scene] {
    static BATTERY: std::sync::OnceLock<Vec<Scene>> = std::sync::OnceLock::new();
    BATTERY.get_or_init(draw_battery)
}

fn draw_battery() -> Vec<Scene> {
    let mut v = Vec::new();
    for size in [48.0, 100.0] {
        for tone in TONES {
            v.push(face_scene(size, tone));
            v.push(cat_scene(size, tone));
        }
        for facing in [1.0, -1.0] {
            v.push(profile_scene(size, facing, TONES[0]));
        }
    }
    for height in [120.0, 220.0] {
        v.push(body_scene(height, (170.0, 90.0, 60.0, 40.0, 140.0)));
        v.push(body_scene(height, (120.0, 200.0, 50.0, 20.0, 100.0)));
    }
    v.push(plate_scene(110.0, 120.0));
    v.push(plate_scene(180.0, 80.0));
    v.push(noise_scene(160, 61));
    v
}

/// A grey picture with a framed face (head and shoulders' worth of background around it)
/// covering two thirds of it, in its top-left corner or (`far`) its bottom-right one: the face's
/// centre lies in the top-left quarter or the bottom-right quarter. The face is the cascade
/// battery's largest shaded frontal face (light falling as on a real face, lens blur: a
/// drawing a real detector, dlib's MMOD, finds), about a third of the picture wide.
pub(in crate::detect::fingerprint::probe) fn placed_face(
    w: u32,
    h: u32,
    far: bool,
) -> image::RgbImage {
    let mut img = image::RgbImage::from_pixel(w, h, image::Rgb([128, 128, 128]));
    let Some(scene) = battery()
        .iter()
        .filter(|s| s.name == "frontal face")
        .max_by_key(|s| s.image.width)
    else {
        return img;
    };
    let g = &scene.image;
    let grey = image::RgbImage::from_fn(g.width as u32, g.height as u32, |x, y| {
        let v = g
            .pixels
            .get(y as usize * g.width + x as usize)
            .copied()
            .unwrap_or(128);
        image::Rgb([v, v, v])
    });
    let (fw, fh) = ((2 * w / 3).max(1), (2 * h / 3).max(1));
    let face = image::imageops::resize(&grey, fw, fh, image::imageops::FilterType::Triangle);
    let (x, y) = if far { (w - fw, h - fh) } else { (0, 0) };
    image::imageops::overlay(&mut img, &face, i64::from(x), i64::from(y));
    img
}
