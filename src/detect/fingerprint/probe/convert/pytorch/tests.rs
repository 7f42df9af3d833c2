//! The PyTorch converter on state dicts written here opcode by opcode.

use super::*;
use std::io::Write;

/// A zip-format `torch.save` of `entries` (name, shape), written opcode by opcode as
/// PyTorch 2 does (protocol 2, one float32 storage per tensor, contiguous).
fn torch_zip(entries: &[(&str, &[usize])]) -> Vec<u8> {
    let mut p = b"\x80\x02ccollections\nOrderedDict\n)R(".to_vec();
    let text = |p: &mut Vec<u8>, s: &str| {
        p.push(b'X');
        p.extend_from_slice(&(s.len() as u32).to_le_bytes());
        p.extend_from_slice(s.as_bytes());
    };
    let int = |p: &mut Vec<u8>, v: usize| {
        p.push(b'J');
        p.extend_from_slice(&(v as u32).to_le_bytes());
    };
    let mut storages = Vec::new();
    for (k, (name, shape)) in entries.iter().enumerate() {
        let n: usize = shape.iter().product();
        text(&mut p, name);
        p.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n((");
        text(&mut p, "storage");
        // Batch-norm counters are int64, as PyTorch writes them.
        let long = name.ends_with("num_batches_tracked");
        p.extend_from_slice(if long {
            b"ctorch\nLongStorage\n"
        } else {
            b"ctorch\nFloatStorage\n"
        });
        text(&mut p, &k.to_string());
        text(&mut p, "cpu");
        int(&mut p, n);
        p.extend_from_slice(b"NtQ");
        int(&mut p, 0);
        p.push(b'(');
        shape.iter().for_each(|&d| int(&mut p, d));
        p.extend_from_slice(b"t(");
        let mut stride = vec![1usize; shape.len()];
        for i in (0..shape.len().saturating_sub(1)).rev() {
            stride[i] = stride[i + 1] * shape[i + 1];
        }
        stride.iter().for_each(|&d| int(&mut p, d));
        p.extend_from_slice(b"t\x89ccollections\nOrderedDict\n)RtR");
        // Small distinct values; variances positive.
        storages.push(if long {
            vec![0u8; 8 * n]
        } else {
            (0..n)
                .flat_map(|i| (0.5 + (i % 7) as f32 * 0.01).to_le_bytes())
                .collect::<Vec<u8>>()
        });
    }
    p.extend_from_slice(b"u.");
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    z.start_file("archive/data.pkl", o).unwrap();
    z.write_all(&p).unwrap();
    for (k, s) in storages.iter().enumerate() {
        z.start_file(format!("archive/data/{k}"), o).unwrap();
        z.write_all(s).unwrap();
    }
    z.finish().unwrap().into_inner()
}

#[test]
fn a_zip_chain_with_batch_norm_and_no_activations_is_read() {
    // conv(3→8, 3×3) bn conv(8→16, 3×3) bn linear(16·5·5 → 10): no PReLU, so ReLUs are
    // assumed after each batch norm. No unpadded plan gives 5×5 before the flatten (the
    // usual one pools after the first stage only); with "same" padding a 12 input and one
    // 3×3 pooling does (12 → 12 → 5 → 5).
    let w = torch_zip(&[
        ("features.0.weight", &[8, 3, 3, 3]),
        ("features.0.bias", &[8]),
        ("features.1.weight", &[8]),
        ("features.1.bias", &[8]),
        ("features.1.running_mean", &[8]),
        ("features.1.running_var", &[8]),
        ("features.1.num_batches_tracked", &[]),
        ("features.3.weight", &[16, 8, 3, 3]),
        ("features.4.weight", &[16]),
        ("features.4.bias", &[16]),
        ("features.4.running_mean", &[16]),
        ("features.4.running_var", &[16]),
        ("classifier.weight", &[10, 16 * 5 * 5]),
        ("classifier.bias", &[10]),
    ]);
    let (onnx, note) = convert(&w).unwrap();
    assert!(!onnx.is_empty());
    assert!(note.contains("chain of 5 layers into 1 output"), "{note}");
    assert!(note.contains("2 ReLU assumed"), "{note}");
    assert!(
        note.contains("input 12×12, \"same\" padding, max pooling 3x3 stride 2,"),
        "{note}"
    );
}

#[test]
fn heads_branch_from_the_output_whose_width_they_take() {
    // MTCNN P-Net's shape: a 32-channel trunk, then a 2-channel and a 4-channel head.
    let w = torch_zip(&[
        ("conv1.weight", &[10, 3, 3, 3]),
        ("prelu1.weight", &[10]),
        ("conv2.weight", &[32, 10, 3, 3]),
        ("prelu2.weight", &[32]),
        ("conv4_1.weight", &[2, 32, 1, 1]),
        ("conv4_2.weight", &[4, 32, 1, 1]),
    ]);
    let (_, note) = convert(&w).unwrap();
    assert!(note.contains("into 2 outputs"), "{note}");
    assert!(note.contains("input 12×12"), "{note}");
    assert!(
        !note.contains("pooling") && !note.contains("ReLU"),
        "{note}"
    );
}

#[test]
fn blocks_and_unknown_modules_are_refused_by_name() {
    let w = torch_zip(&[
        ("conv1.weight", &[8, 3, 3, 3]),
        ("layer1.0.conv1.weight", &[8, 8, 3, 3]),
    ]);
    let e = convert(&w).unwrap_err().to_string();
    assert!(e.contains("module layer1.0.conv1 sits in a block"), "{e}");
    // A LayerNorm: a 1-D weight and bias, no running statistics.
    let w = torch_zip(&[
        ("conv1.weight", &[8, 3, 3, 3]),
        ("norm.weight", &[8]),
        ("norm.bias", &[8]),
    ]);
    let e = convert(&w).unwrap_err().to_string();
    assert!(e.contains("module norm"), "{e}");
    // A dict of tensors keyed by a person's name (a pickled gallery): the name never reaches
    // the reason.
    let w = torch_zip(&[("conv1.weight", &[8, 3, 3, 3]), ("Maria Lopez", &[128])]);
    let e = convert(&w).unwrap_err().to_string();
    assert!(e.contains("module #1") && !e.contains("Maria"), "{e}");
    // A linear layer first: not an image model.
    let w = torch_zip(&[("fc.weight", &[4, 8])]);
    let e = convert(&w).unwrap_err().to_string();
    assert!(e.contains("not a convolution"), "{e}");
    // An empty kernel.
    let w = torch_zip(&[("conv1.weight", &[8, 3, 0, 0])]);
    let e = convert(&w).unwrap_err().to_string();
    assert!(
        e.contains("module conv1: a weight of shape [8, 3, 0, 0]"),
        "{e}"
    );
    // A layer no earlier output feeds.
    let w = torch_zip(&[
        ("conv1.weight", &[8, 3, 3, 3]),
        ("conv2.weight", &[8, 5, 3, 3]),
    ]);
    let e = convert(&w).unwrap_err().to_string();
    assert!(e.contains("conv2 takes 5"), "{e}");
}

#[test]
fn a_flatten_no_plan_fits_is_refused() {
    // 7 features after a 3×3 conv of 1 channel: no square fits.
    let w = torch_zip(&[("conv1.weight", &[1, 3, 3, 3]), ("fc.weight", &[2, 7])]);
    let e = convert(&w).unwrap_err().to_string();
    assert!(e.contains("no input size"), "{e}");
}
