//! Probe pictures drawn at run time with the `image` crate: synthetic faces (varied proportions
//! and tones, a side parting and a mole so a mirror image is a different picture of the same
//! "person"), noise, translations, and walking silhouettes. Nothing real is used or stored.

use super::*;

/// A small deterministic generator (xorshift), so probe inputs are the same on every run.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    pub(super) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }
}

pub(super) fn fill_ellipse(img: &mut RgbImage, cx: f64, cy: f64, rx: f64, ry: f64, color: [u8; 3]) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let y0 = ((cy - ry).floor() as i64).max(0);
    let y1 = ((cy + ry).ceil() as i64).min(h - 1);
    let x0 = ((cx - rx).floor() as i64).max(0);
    let x1 = ((cx + rx).ceil() as i64).min(w - 1);
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (dx, dy) = ((x as f64 + 0.5 - cx) / rx, (y as f64 + 0.5 - cy) / ry);
            if dx * dx + dy * dy <= 1.0 {
                img.put_pixel(x as u32, y as u32, Rgb(color));
            }
        }
    }
}

/// A frontal synthetic face filling the frame as a face crop would: skin ellipse, hair with a
/// side parting, brows, eyes, nose, mouth and a mole, with per-seed proportions and tones. The
/// parting and the mole make it asymmetric, so its mirror image is a different picture of the
/// same "person".
pub fn synthetic_face(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
    for _ in 0..4 {
        r.next();
    }
    let (fw, fh) = (w as f64, h as f64);
    let bg = [
        r.range(60.0, 200.0) as u8,
        r.range(60.0, 200.0) as u8,
        r.range(60.0, 200.0) as u8,
    ];
    let mut img = RgbImage::from_pixel(w, h, Rgb(bg));
    let skin_l = r.range(0.35, 1.0);
    let skin = [
        (255.0 * skin_l) as u8,
        (200.0 * skin_l) as u8,
        (165.0 * skin_l) as u8,
    ];
    let hair_l = r.range(0.05, 0.6);
    let hair = [
        (120.0 * hair_l) as u8,
        (90.0 * hair_l) as u8,
        (60.0 * hair_l) as u8,
    ];
    let cx = fw * 0.5;
    let cy = fh * r.range(0.5, 0.56);
    let rx = fw * r.range(0.33, 0.42);
    let ry = fh * r.range(0.42, 0.5);
    fill_ellipse(&mut img, cx, cy - ry * 0.25, rx * 1.05, ry * 0.85, hair);
    fill_ellipse(&mut img, cx, cy, rx, ry, skin);
    // Side parting: a sweep of hair over one side of the forehead.
    let part = r.range(0.25, 0.45);
    fill_ellipse(
        &mut img,
        cx - rx * part,
        cy - ry * 0.72,
        rx * 0.55,
        ry * 0.2,
        hair,
    );
    let eye_dx = rx * r.range(0.32, 0.48);
    let eye_y = cy - ry * r.range(0.1, 0.25);
    let eye_rx = rx * r.range(0.13, 0.2);
    let eye_ry = eye_rx * r.range(0.4, 0.7);
    let iris = [
        r.range(20.0, 120.0) as u8,
        r.range(20.0, 100.0) as u8,
        r.range(10.0, 80.0) as u8,
    ];
    let brow_y = eye_y - ry * r.range(0.12, 0.2);
    for side in [-1.0, 1.0] {
        let ex = cx + side * eye_dx;
        fill_ellipse(&mut img, ex, brow_y, eye_rx * 1.2, eye_ry * 0.35, hair);
        fill_ellipse(&mut img, ex, eye_y, eye_rx, eye_ry, [235, 235, 235]);
        fill_ellipse(&mut img, ex, eye_y, eye_ry * 0.8, eye_ry * 0.8, iris);
    }
    let nose_y = cy + ry * r.range(0.05, 0.2);
    let shade = tone(skin, [0.8, 0.75, 0.75]);
    fill_ellipse(
        &mut img,
        cx,
        nose_y,
        rx * r.range(0.08, 0.15),
        ry * r.range(0.12, 0.2),
        shade,
    );
    let mole = tone(skin, [0.45, 0.35, 0.3]);
    fill_ellipse(
        &mut img,
        cx + rx * r.range(0.35, 0.55),
        cy + ry * r.range(0.1, 0.3),
        rx * 0.05,
        rx * 0.05,
        mole,
    );
    let mouth_y = cy + ry * r.range(0.4, 0.55);
    fill_ellipse(
        &mut img,
        cx,
        mouth_y,
        rx * r.range(0.25, 0.45),
        ry * r.range(0.04, 0.09),
        [
            r.range(120.0, 200.0) as u8,
            r.range(40.0, 80.0) as u8,
            r.range(40.0, 80.0) as u8,
        ],
    );
    img
}

/// A darker shade of `c`, per channel.
pub(super) fn tone(c: [u8; 3], f: [f64; 3]) -> [u8; 3] {
    [
        (c[0] as f64 * f[0]) as u8,
        (c[1] as f64 * f[1]) as u8,
        (c[2] as f64 * f[2]) as u8,
    ]
}

pub(super) fn noise_image(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut r = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1);
    RgbImage::from_fn(w, h, |_, _| {
        Rgb([
            (r.next() * 255.0) as u8,
            (r.next() * 255.0) as u8,
            (r.next() * 255.0) as u8,
        ])
    })
}

/// The image moved `dx` pixels right and `dy` down, the uncovered edge repeating.
pub(super) fn translate(img: &RgbImage, dx: i64, dy: i64) -> RgbImage {
    RgbImage::from_fn(img.width(), img.height(), |x, y| {
        let sx = (x as i64 - dx).clamp(0, img.width() as i64 - 1) as u32;
        let sy = (y as i64 - dy).clamp(0, img.height() as i64 - 1) as u32;
        *img.get_pixel(sx, sy)
    })
}

/// A walking figure's silhouettes over a gait cycle, as a 0/1 sequence tensor.
pub(super) fn walking_silhouettes(l: &InputLayout, walker: u64) -> Vec<f32> {
    let t = l.frames.unwrap_or(1);
    let (w, h) = (l.width, l.height);
    let mut out = Vec::with_capacity(t * (w * h) as usize);
    let stride = 0.25 + 0.1 * walker as f64;
    let build = 0.8 + 0.15 * walker as f64;
    for f in 0..t {
        let phase = f as f64 / t as f64 * std::f64::consts::TAU * 2.0;
        let mut img = RgbImage::new(w, h);
        let (fw, fh) = (w as f64, h as f64);
        let white = [255, 255, 255];
        fill_ellipse(&mut img, fw * 0.5, fh * 0.1, fw * 0.1, fh * 0.07, white);
        fill_ellipse(
            &mut img,
            fw * 0.5,
            fh * 0.35,
            fw * 0.14 * build,
            fh * 0.2,
            white,
        );
        for side in [0.0, std::f64::consts::PI] {
            let swing = (phase + side).sin() * stride;
            for k in 0..12 {
                let s = k as f64 / 11.0;
                let x = fw * (0.5 + swing * s * 0.6);
                let y = fh * (0.55 + 0.42 * s);
                fill_ellipse(&mut img, x, y, fw * 0.06 * build, fh * 0.03, white);
            }
        }
        out.extend(img.pixels().map(|p| if p[0] > 127 { 1.0 } else { 0.0 }));
    }
    out
}

pub(super) fn reverse_frames(seq: &[f32], l: &InputLayout) -> Vec<f32> {
    let frame = (l.width * l.height) as usize;
    seq.chunks(frame).rev().flatten().copied().collect()
}
