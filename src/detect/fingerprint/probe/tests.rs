//! Tests of the probe's drawing, layouts and measurements.

use super::*;

#[test]
fn faces_differ_by_seed_and_their_mirror_is_another_picture() {
    let a = synthetic_face(112, 112, 1);
    let b = synthetic_face(112, 112, 2);
    assert_ne!(a, b);
    // Parting and mole make the mirror image differ, but only in a few places.
    let f = imageops::flip_horizontal(&a);
    let same = a.pixels().zip(f.pixels()).filter(|(x, y)| x == y).count() as f64;
    let frac = same / (112.0 * 112.0);
    assert!(frac > 0.8 && frac < 0.98, "{frac}");
}

#[test]
fn coordinate_response_reads_a_shift() {
    // Five points in 0..1 units, moved right by 0.05.
    let before = [0.3f32, 0.4, 0.7, 0.4, 0.5, 0.55, 0.35, 0.7, 0.65, 0.7];
    let after: Vec<f32> = before
        .iter()
        .enumerate()
        .map(|(i, &v)| if i % 2 == 0 { v + 0.05 } else { v })
        .collect();
    let (dx, dy) = coordinate_response(&before, &after, 2).unwrap_or((0.0, 0.0));
    assert!((dx - 0.125).abs() < 1e-3 && dy.abs() < 1e-6, "{dx} {dy}");
    let (dx, _) = coordinate_response(&before, &before, 2).unwrap_or((1.0, 1.0));
    assert!(dx.abs() < 1e-9);
    let v = VectorBehaviour {
        output: "o".into(),
        dim: 10,
        norm: 1.0,
        flip_cos: 0.9,
        shift_cos: 0.9,
        other_face_cos: 0.9,
        noise_cos: 0.5,
        constant: false,
        shift_px: 4,
        shift_response: Some(ShiftResponse {
            right: (0.12, 0.01),
            down: (-0.005, 0.11),
        }),
        grouped_response: None,
        permutation_cos: None,
    };
    assert!(v.coordinate_like());
    // An embedding that drifts as much across as along is not coordinates.
    let v = VectorBehaviour {
        shift_response: Some(ShiftResponse {
            right: (0.02, 0.03),
            down: (0.02, 0.01),
        }),
        ..v
    };
    assert!(!v.coordinate_like());
}

#[test]
fn triples_are_read_as_coordinates_only_to_confirm_landmarks() {
    // 20 (x, y, z) landmarks; the face moves right by 0.1: x grows, y and z stay.
    let before: Vec<f32> = (0..60).map(|i| (i % 7) as f32 / 7.0).collect();
    let right: Vec<f32> = before
        .iter()
        .enumerate()
        .map(|(i, &v)| if i % 3 == 0 { v + 0.1 } else { v })
        .collect();
    let (dx, dy) = coordinate_response(&before, &right, 3).unwrap();
    assert!(dx > 0.09 && dy.abs() < 1e-6, "{dx} {dy}");
    // Read as pairs the same vector mixes x, y and z: its x and y both move.
    let (px, py) = coordinate_response(&before, &right, 2).unwrap();
    assert!(px.abs() > 0.01 && py.abs() > 0.01, "{px} {py}");
    let moved = ShiftResponse {
        right: (0.1, 0.0),
        down: (0.0, 0.1),
    };
    let v = VectorBehaviour {
        output: "o".into(),
        dim: 60,
        norm: 1.0,
        flip_cos: 0.99,
        shift_cos: 0.99,
        other_face_cos: 0.5,
        noise_cos: 0.5,
        constant: false,
        shift_px: 4,
        shift_response: None,
        grouped_response: Some((3, moved)),
        permutation_cos: None,
    };
    assert!(!v.coordinate_like());
    assert!(v.coordinates_in_any_reading());
}

#[test]
fn layouts() {
    let l = InputLayout::of(&[-1, 3, 112, 112]).map_err(|e| e.to_string());
    assert!(matches!(l, Ok(ref l) if l.channels_first && l.width == 112));
    let l = InputLayout::of(&[1, 160, 160, 3]).map_err(|e| e.to_string());
    assert!(matches!(l, Ok(ref l) if !l.channels_first && l.width == 160));
    let l = InputLayout::of(&[-1, 30, 64, 44]).map_err(|e| e.to_string());
    assert!(matches!(l, Ok(ref l) if l.frames == Some(30)));
    assert!(InputLayout::of(&[1, 1000]).is_err());
    assert!(InputLayout::of(&[1, 3, 100000, 100000]).is_err());
}

#[test]
fn a_score_map_follows_a_face_only_when_its_peak_moves_across() {
    // 1 × 1 × 8 × 8 maps: a bump at (1, 2) then at (6, 5) follows; a flat map does not; a bump
    // that stays put does not.
    let map = |x: usize, y: usize| -> Vec<f32> {
        (0..64)
            .map(|i| {
                if i == y * 8 + x {
                    5.0
                } else {
                    0.1 * (i % 3) as f32
                }
            })
            .collect()
    };
    let out = |d: Vec<f32>| vec![("score".to_string(), vec![1, 1, 8, 8], d)];
    let d = detection_response(&out(map(1, 2)), &out(map(6, 5))).unwrap();
    assert!(d.follows && d.top_left == Some((1, 2)) && d.bottom_right == Some((6, 5)));
    let flat = vec![0.5f32; 64];
    let d = detection_response(&out(flat.clone()), &out(flat)).unwrap();
    assert!(!d.follows && d.top_left.is_none());
    let d = detection_response(&out(map(1, 2)), &out(map(1, 2))).unwrap();
    assert!(!d.follows);
    // A flat vector is no map.
    let v = vec![("emb".to_string(), vec![1, 512], vec![0.0f32; 512])];
    assert!(detection_response(&v, &v).is_none());
}
