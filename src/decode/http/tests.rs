//! Tests of the HTTP/1.x decoder: conversations fed in every chunking.

use super::head::*;
use super::*;
use crate::model::Observation;

type Obs = Vec<(Direction, String, String)>;

/// Feed a conversation (list of (dir, bytes)) in chunks of `chunk` bytes.
fn run_chunked(conv: &[(Direction, &[u8])], chunk: usize) -> (Obs, Progress) {
    let mut out: Vec<Observation> = Vec::new();
    let mut p = HttpParser::new();
    let mut last = Progress::Continue;
    {
        let mut em = Emitter::new(0.0, None, &mut out);
        for (dir, bytes) in conv {
            for c in bytes.chunks(chunk.max(1)) {
                last = p.feed(*dir, c, &mut em);
                if last == Progress::Done {
                    break;
                }
            }
            if last == Progress::Done {
                break;
            }
        }
        p.close(&mut em);
    }
    let obs = out
        .into_iter()
        .map(|o| (o.dir, format!("{}.{}", o.proto, o.field), o.value))
        .collect();
    (obs, last)
}

fn run(conv: &[(Direction, &[u8])]) -> Obs {
    let (whole, _) = run_chunked(conv, usize::MAX);
    // Chunk independence: every chunk size gives the same observations.
    let total: usize = conv.iter().map(|(_, b)| b.len()).sum();
    let step = if total > 4000 { 97 } else { 1 };
    let mut n = 1;
    while n < 200.min(total) {
        let (o, _) = run_chunked(conv, n);
        assert_eq!(o, whole, "chunk size {n}");
        n += step;
    }
    whole
}

fn has(o: &Obs, key: &str, value: &str) -> bool {
    o.iter().any(|(_, k, v)| k == key && v == value)
}

fn count(o: &Obs, key: &str) -> usize {
    o.iter().filter(|(_, k, _)| k == key).count()
}

const C: Direction = Direction::ToServer;
const S: Direction = Direction::ToClient;

#[test]
fn request_fields() {
    let o = run(&[(
        C,
        b"POST /face/v1.0/identify?returnFaceId=true HTTP/1.1\r\nHost: westeurope.api.cognitive.microsoft.com:443\r\nUser-Agent: curl/8.0\r\nOcp-Apim-Subscription-Key: 0123456789abcdef\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 52\r\n\r\n{\"personGroupId\":\"g1\",\"faceIds\":[\"a\"],\"maxNumOf\":1}",
    )]);
    assert!(has(&o, "http.method", "POST"));
    assert!(has(&o, "http.uri", "/face/v1.0/identify?returnFaceId=true"));
    assert!(has(&o, "http.path", "/face/v1.0/identify"));
    assert!(has(&o, "http.query", "returnFaceId=true"));
    assert!(has(
        &o,
        "http.host",
        "westeurope.api.cognitive.microsoft.com"
    ));
    assert!(has(&o, "http.user_agent", "curl/8.0"));
    assert!(has(&o, "http.header.ocp-apim-subscription-key", "present"));
    assert!(has(&o, "http.content_type", "application/json"));
    assert!(has(&o, "json.key", "personGroupId"));
    assert!(!o.iter().any(|(_, _, v)| v.contains("0123456789abcdef")));
}

#[test]
fn amz_target_auth_and_presence() {
    let o = run(&[(
        C,
        b"POST / HTTP/1.1\r\nHost: rekognition.us-east-1.amazonaws.com\r\nX-Amz-Target: RekognitionService.SearchFacesByImage\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=abc\r\nx-api-key: k\r\napp_id: 1\r\napp_key: 2\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}GET /x HTTP/1.1\r\nAuthorization: Digest username=\"bob\", realm=\"r\"\r\n\r\n",
    )]);
    assert!(has(
        &o,
        "http.header.x-amz-target",
        "RekognitionService.SearchFacesByImage"
    ));
    assert!(has(&o, "http.header.authorization", "AWS4-HMAC-SHA256"));
    assert!(has(&o, "http.header.authorization", "Digest"));
    assert!(has(&o, "http.header.x-api-key", "present"));
    assert!(has(&o, "http.header.app_id", "present"));
    assert!(has(&o, "http.header.app_key", "present"));
    assert!(!o
        .iter()
        .any(|(_, _, v)| v.contains("bob") || v.contains("AKIA")));
    assert_eq!(count(&o, "http.method"), 2);
}

#[test]
fn hosts() {
    assert_eq!(strip_port("[::1]:8080"), "[::1]");
    assert_eq!(strip_port("[::1]"), "[::1]");
    assert_eq!(strip_port("Example.com:80"), "Example.com");
    assert_eq!(strip_port("::1"), "::1");
    let o = run(&[(
        C,
        b"GET http://user@api.kairos.com:8080/recognize?x=1 HTTP/1.1\r\n\r\n",
    )]);
    assert!(has(&o, "http.host", "api.kairos.com"));
    assert!(has(&o, "http.path", "/recognize"));
    assert!(has(
        &o,
        "http.uri",
        "http://api.kairos.com:8080/recognize?x=1"
    ));
    let o = run(&[(C, b"GET http://[2001:db8::1]:81 HTTP/1.1\r\n\r\n")]);
    assert!(has(&o, "http.host", "[2001:db8::1]"));
    assert!(has(&o, "http.path", "/"));
}

#[test]
fn pipelined_keepalive_head_204_304_chunked() {
    let o = run(&[
        (
            C,
            b"HEAD /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\nGET /c HTTP/1.1\r\nHost: h\r\n\r\nGET /d HTTP/1.1\r\nHost: h\r\n\r\nGET /e HTTP/1.1\r\n\r\n",
        ),
        (
            S,
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/html\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n5;ext=1\r\n{\"ab\"\r\n4\r\n:1}\n\r\n0\r\nX-T: 1\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnopHTTP/1.1 500 X\r\n\r\n",
        ),
    ]);
    let st: Vec<_> = o
        .iter()
        .filter(|(_, k, _)| k == "http.status")
        .map(|x| x.2.as_str())
        .collect();
    assert_eq!(st, ["200", "204", "304", "200", "404", "500"]);
    assert!(has(&o, "json.key", "ab"));
}

#[test]
fn continue_and_connect() {
    let (o, p) = run_chunked(
        &[
            (C, b"POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 37\r\n\r\n"),
            (S, b"HTTP/1.1 100 Continue\r\n\r\n"),
            (C, b"api_key=k&api_secret=s&outer_id=x%20y"),
            (S, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            (C, b"CONNECT api-us.faceplusplus.com:443 HTTP/1.1\r\nHost: api-us.faceplusplus.com:443\r\n\r\n"),
            (S, b"HTTP/1.1 200 Connection established\r\n\r\n"),
            (C, b"\x16\x03\x01\x02\x00"),
        ],
        usize::MAX,
    );
    let st: Vec<_> = o
        .iter()
        .filter(|(_, k, _)| k == "http.status")
        .map(|x| x.2.as_str())
        .collect();
    assert_eq!(st, ["100", "200", "200"]);
    for k in ["api_key", "api_secret", "outer_id"] {
        assert!(has(&o, "http.form.key", k), "{k}");
    }
    assert!(has(&o, "http.uri", "api-us.faceplusplus.com:443"));
    assert!(has(&o, "http.host", "api-us.faceplusplus.com"));
    assert!(!o.iter().any(|(_, _, v)| v == "k" || v == "s"));
    assert_eq!(p, Progress::Done);
}

#[test]
fn facepp_multipart_form() {
    let body = b"--X\r\nContent-Disposition: form-data; name=\"api_key\"\r\n\r\nkey\r\n--X\r\nContent-Disposition: form-data; name=\"faceset_token\"\r\n\r\ntok\r\n--X\r\nContent-Disposition: form-data; name=\"image_file\"; filename=\"f.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0JFIF\r\n--X--\r\n";
    let mut req = format!(
        "POST /facepp/v3/search HTTP/1.1\r\nHost: api-us.faceplusplus.com\r\nContent-Type: multipart/form-data; boundary=X\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    let o = run(&[(C, &req)]);
    assert!(has(&o, "http.multipart.boundary", "X"));
    for k in ["api_key", "faceset_token", "image_file"] {
        assert!(has(&o, "http.form.key", k), "{k}");
    }
    assert!(has(&o, "http.part.content_type", "image/jpeg"));
    assert!(has(&o, "http.part.size", "8"));
    assert!(!o
        .iter()
        .any(|(_, _, v)| v == "key" || v == "tok" || v.contains("JFIF")));
}

#[test]
fn hikvision_alarm_server_push() {
    let xml = "<EventNotificationAlert version=\"2.0\" xmlns=\"http://www.hikvision.com/ver20/XMLSchema\"><eventType>faceContrast</eventType><eventState>active</eventState><faceLibType>blackFD</faceLibType><FPID>9</FPID></EventNotificationAlert>";
    let body = format!("--MIME_boundary\r\nContent-Disposition: form-data; name=\"Event_Type\"\r\nContent-Type: application/xml\r\n\r\n{xml}\r\n--MIME_boundary\r\nContent-Disposition: form-data; name=\"Picture\"; filename=\"face.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\u{1}\u{2}\u{3}\r\n--MIME_boundary--\r\n");
    let req = format!("POST /alarm HTTP/1.1\r\nHost: 10.0.0.2:8080\r\nContent-Type: multipart/form-data; boundary=MIME_boundary\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    let o = run(&[(C, req.as_bytes())]);
    assert!(has(&o, "hikvision.event_type", "faceContrast"));
    assert!(has(&o, "hikvision.face_lib_type", "blackFD"));
    assert!(has(&o, "hikvision.field", "FPID"));
    assert!(has(&o, "http.form.key", "Event_Type"));
    assert!(has(&o, "http.form.key", "Picture"));
    assert!(has(&o, "http.part.size", "3"));
    assert!(has(&o, "http.host", "10.0.0.2"));
}

#[test]
fn hikvision_alert_stream_endless() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Type: multipart/mixed; boundary=boundary\r\nConnection: keep-alive\r\n\r\n";
    let part = |t: &str| {
        let x = format!("<EventNotificationAlert version=\"2.0\" xmlns=\"http://www.hikvision.com/ver20/XMLSchema\"><eventType>{t}</eventType><eventState>active</eventState></EventNotificationAlert>");
        format!("--boundary\r\nContent-Type: application/xml; charset=\"UTF-8\"\r\nContent-Length: {}\r\n\r\n{x}\r\n", x.len())
    };
    let mut s = head.to_vec();
    s.extend_from_slice(part("videoloss").as_bytes());
    s.extend_from_slice(
        b"--boundary\r\nContent-Type: image/jpeg\r\nContent-Length: 4\r\n\r\n\xff\xd8\xff\xd9\r\n",
    );
    s.extend_from_slice(part("faceCapture").as_bytes());
    s.extend_from_slice(b"--boundary\r\n");
    let o = run(&[
        (C, b"GET /ISAPI/Event/notification/alertStream HTTP/1.1\r\nHost: 10.0.0.64\r\nAuthorization: Digest username=\"admin\"\r\n\r\n"),
        (S, &s),
    ]);
    assert!(has(&o, "hikvision.event_type", "videoloss"));
    assert!(has(&o, "hikvision.event_type", "faceCapture"));
    assert!(has(&o, "http.part.content_type", "image/jpeg"));
    assert!(has(&o, "http.part.size", "4"));
    assert!(has(
        &o,
        "http.path",
        "/ISAPI/Event/notification/alertStream"
    ));
}

#[test]
fn dahua_attach_stream() {
    let s = b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=myboundary\r\n\r\n--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 39\r\n\r\nCode=VideoMotion;action=Start;index=0\r\n\r\n--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 120\r\n\r\nCode=FaceRecognition;action=Start;index=0;data={\"Candidates\":[{\"Person\":{\"Name\":\"Jane\"},\"Similarity\":94}]}\r\n\r\n--myboundary\r\n";
    let o = run(&[
        (C, b"GET /cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=5 HTTP/1.1\r\nHost: 10.0.0.108\r\n\r\n"),
        (S, s),
    ]);
    assert!(has(&o, "dahua.code", "VideoMotion"));
    assert!(has(&o, "dahua.code", "FaceRecognition"));
    assert!(has(&o, "dahua.field", "Similarity"));
    assert!(has(
        &o,
        "http.query",
        "action=attach&codes=[All]&heartbeat=5"
    ));
    assert!(!o.iter().any(|(_, _, v)| v.contains("Jane")));
}

#[test]
fn video_body_is_bypassed() {
    let mut s = b"HTTP/1.0 200 OK\r\nContent-Type: video/mp4\r\n\r\n".to_vec();
    s.extend_from_slice(&[0u8; 5000]);
    let (o, p) = run_chunked(&[(C, b"GET /v.mp4 HTTP/1.0\r\n\r\n"), (S, &s)], 512);
    assert_eq!(p, Progress::Done);
    assert!(has(&o, "http.content_type", "video/mp4"));
}

#[test]
fn gzip_json_body() {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(br#"{"subjects":[{"subject":"x","similarity":0.9}]}"#)
        .unwrap();
    let gz = e.finish().unwrap();
    let mut s = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n", gz.len()).into_bytes();
    s.extend_from_slice(&gz);
    let o = run(&[
        (C, b"POST /api/v1/recognition/recognize HTTP/1.1\r\n\r\n"),
        (S, &s),
    ]);
    assert!(has(&o, "json.key", "similarity"));
}

#[test]
fn not_http_is_done_and_hostile_sizes() {
    let (o, p) = run_chunked(&[(C, b"\x16\x03\x01\x00\xa5\x01\x00")], usize::MAX);
    assert!(o.is_empty());
    assert_eq!(p, Progress::Done);
    // Giant Content-Length and chunk sizes do not allocate.
    let (_, p) = run_chunked(
        &[
            (C, b"POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 99999999999999\r\n\r\n{\"a\":1"),
            (S, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\nabc"),
        ],
        3,
    );
    assert_eq!(p, Progress::Continue);
    // Endless header line.
    let mut p2 = HttpParser::new();
    let mut out = Vec::new();
    let mut em = Emitter::new(0.0, None, &mut out);
    p2.feed(C, b"GET /", &mut em);
    for _ in 0..100 {
        p2.feed(C, &[b'a'; 4096], &mut em);
    }
    assert!(p2.req.buf.len() <= MAX_HEAD + 1);
}

#[test]
fn gap_in_length_body_keeps_going() {
    let mut p = HttpParser::new();
    let mut out = Vec::new();
    let mut em = Emitter::new(0.0, None, &mut out);
    p.feed(
        C,
        b"POST /a HTTP/1.1\r\nContent-Length: 100\r\nContent-Type: image/jpeg\r\n\r\n0123456789",
        &mut em,
    );
    assert_eq!(p.gap(C, 80, &mut em), Progress::Continue);
    p.feed(C, b"0123456789GET /next HTTP/1.1\r\n\r\n", &mut em);
    assert!(out.iter().any(|o| o.field == "path" && o.value == "/next"));
}
