//! The demo site: a housing estate's camera VLAN with a dozen devices, some running face
//! recognition, some only detecting faces or counting people. Used for the shipped sample
//! capture, the end-to-end tests, and (with bulk video) the throughput benchmark.
//!
//! Message formats follow the vendors' documents and public examples (SIGNATURES.md §7). The
//! person names and image bytes inside are made up; the tests check that none of them leaks into
//! banwatch's output.

use super::*;
use std::io::{self, Write};
use std::net::Ipv4Addr;

/// A made-up enrolled person's name placed in recognition events; must never appear in output.
pub const PLANTED_NAME: &str = "Maria Example-Planted";

/// What each device of the demo site should be found doing (for tests and the README).
pub const EXPECTED: &[(&str, &str, &str)] = &[
    (
        "10.20.0.11",
        "face_detection",
        "Hikvision alertStream, faceCapture only",
    ),
    (
        "10.20.0.12",
        "face_recognition",
        "Hikvision faceContrast with FPID/similarity",
    ),
    ("10.20.0.13", "face_detection", "Dahua FaceDetection events"),
    (
        "10.20.0.14",
        "face_recognition",
        "Dahua FaceRecognition with Candidates",
    ),
    (
        "10.20.0.21",
        "face_recognition?",
        "TLS to Rekognition only: suspected",
    ),
    (
        "10.20.0.22",
        "face_detection",
        "Rekognition DetectFaces in clear",
    ),
    (
        "10.20.0.50",
        "face_recognition",
        "CompreFace server answering /recognition/recognize",
    ),
    (
        "10.20.0.31",
        "face_recognition",
        "Frigate tracked_object_update type face",
    ),
    (
        "10.20.0.32",
        "face_detection",
        "Frigate events with face attribute",
    ),
    (
        "10.20.0.41",
        "face_recognition",
        "ONVIF Recognition/Face event with EnrollmentID",
    ),
    (
        "10.20.0.42",
        "face_attributes",
        "ONVIF metadata with HumanFace Gender/Age",
    ),
    ("10.20.0.43", "person_detection", "ONVIF people counter"),
];

fn host(last: u8) -> Host {
    Host::new(Ipv4Addr::new(10, 20, 0, last))
}

fn http_response(status: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 {status}\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = r.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A fake JPEG (SOI, some bytes, EOI) standing in for a face snapshot.
fn fake_jpeg(n: usize) -> Vec<u8> {
    let mut v = vec![0xff, 0xd8, 0xff, 0xe0];
    v.extend((0..n).map(|i| (i * 131 % 251) as u8));
    v.extend_from_slice(&[0xff, 0xd9]);
    v
}

fn multipart_part(boundary: &str, ctype: &str, body: &[u8]) -> Vec<u8> {
    let mut p = format!(
        "--{boundary}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    p.extend_from_slice(body);
    p.extend_from_slice(b"\r\n");
    p
}

fn hik_alert(ip: &str, event_type: &str, extra: &str, ts: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<ipAddress>{ip}</ipAddress>
<portNo>80</portNo>
<protocol>HTTP</protocol>
<macAddress>02:00:0a:14:00:0b</macAddress>
<channelID>1</channelID>
<dateTime>{ts}</dateTime>
<activePostCount>1</activePostCount>
<eventType>{event_type}</eventType>
<eventState>active</eventState>
<eventDescription>{event_type} alarm</eventDescription>
{extra}</EventNotificationAlert>"#
    )
}

/// Writes the demo site's traffic. `video_rounds` adds that many rounds of bulk RTP video
/// (about 1.4 MB each) between the event rounds.
pub struct DemoSite {
    /// Capture time of the next packet, Unix seconds.
    pub ts: f64,
    port: u16,
}

impl Default for DemoSite {
    fn default() -> Self {
        DemoSite::new()
    }
}

impl DemoSite {
    /// The estate's devices, at the scenario's start time.
    pub fn new() -> DemoSite {
        DemoSite {
            // 2026-11-02T09:00:00Z
            ts: 1_793_610_000.0,
            port: 40_000,
        }
    }

    fn session(&mut self, client: Host, server: Host, sport: u16) -> TcpSession {
        self.port = if self.port >= 60_000 {
            40_000
        } else {
            self.port + 1
        };
        let s = TcpSession::new(client, self.port, server, sport, self.ts);
        self.ts += 0.05;
        s
    }

    fn done(&mut self, s: &TcpSession) {
        if s.ts > self.ts {
            self.ts = s.ts;
        }
    }

    /// One round of every device's characteristic traffic.
    pub fn events<W: Write>(&mut self, w: &mut PcapWriter<W>) -> io::Result<()> {
        let nvr = host(2);
        let vms = host(3);
        let dns = host(1);
        let broker = host(5);

        // 10.20.0.11: Hikvision camera streaming face *capture* events (detection only).
        self.hikvision_stream(w, nvr, host(11), "faceCapture", "<faceCapture><targetAttrs><faceRect><height>0.2</height><width>0.1</width></faceRect></targetAttrs></faceCapture>\n")?;

        // 10.20.0.12: Hikvision face camera comparing faces with its library.
        let extra = format!(
            "<faceContrastResult><FDID>1</FDID><FPID>emp-0012</FPID><similarity>0.93</similarity><name>{PLANTED_NAME}</name><faceLibType>blackFD</faceLibType></faceContrastResult>\n"
        );
        self.hikvision_stream(w, nvr, host(12), "faceContrast", &extra)?;

        // 10.20.0.13 / .14: Dahua attach streams.
        self.dahua_stream(
            w,
            nvr,
            host(13),
            "Code=FaceDetection;action=Start;index=0;data={\n  \"Faces\" : [ { \"BoundingBox\" : [ 2340, 1856, 3696, 4016 ] } ],\n  \"Object\" : { \"ObjectType\" : \"HumanFace\" }\n}",
        )?;
        let rec = format!(
            "Code=FaceRecognition;action=Start;index=0;data={{\n  \"Candidates\" : [ {{ \"Person\" : {{ \"Name\" : \"{PLANTED_NAME}\", \"UID\" : \"0012\", \"GroupID\" : \"10000\" }}, \"Similarity\" : 94 }} ],\n  \"Face\" : {{ \"Sex\" : \"Woman\", \"Age\" : 34 }}\n}}"
        );
        self.dahua_stream(w, nvr, host(14), &rec)?;

        // 10.20.0.21: box resolving Rekognition and talking TLS to it (only the SNI is visible).
        let aws = Host::new(Ipv4Addr::new(52, 94, 224, 12));
        let rek = "rekognition.us-east-1.amazonaws.com";
        w.packet(
            self.ts,
            &udp_frame(&host(21), 53_001, &dns, 53, 1, &dns_query(0x1a2b, rek)),
        )?;
        self.ts += 0.01;
        let mut s = self.session(host(21), aws, 443);
        s.open(w)?;
        s.client_send(w, &tls_client_hello(rek))?;
        s.server_send(w, &[0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00])?;
        s.close(w)?;
        self.done(&s);

        // 10.20.0.22: box calling Rekognition DetectFaces through a clear-text gateway.
        let gw = host(60);
        let body = br#"{"Image":{"S3Object":{"Bucket":"lobby","Name":"frame.jpg"}},"Attributes":["DEFAULT"]}"#;
        let req = format!(
            "POST / HTTP/1.1\r\nHost: {rek}\r\nX-Amz-Target: RekognitionService.DetectFaces\r\nContent-Type: application/x-amz-json-1.1\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261102/us-east-1/rekognition/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        w.packet(
            self.ts,
            &udp_frame(&host(22), 53_002, &dns, 53, 2, &dns_query(0x1a2c, rek)),
        )?;
        let mut s = self.session(host(22), gw, 80);
        s.open(w)?;
        s.client_send(w, &[req.as_bytes(), body].concat())?;
        s.server_send(
            w,
            &http_response(
                "200 OK",
                &[("Content-Type", "application/x-amz-json-1.1".into())],
                br#"{"FaceDetails":[{"BoundingBox":{"Width":0.2,"Height":0.3,"Left":0.4,"Top":0.2},"Confidence":99.9}]}"#,
            ),
        )?;
        s.close(w)?;
        self.done(&s);

        // 10.20.0.23 → 10.20.0.50: CompreFace recognition service on the LAN.
        let img = fake_jpeg(3000);
        let boundary = "----banwatchdemo7MA4YWxkTrZu0gW";
        let mut form = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"frame.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
        )
        .into_bytes();
        form.extend_from_slice(&img);
        form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let req = format!(
            "POST /api/v1/recognition/recognize?limit=1&face_plugins=calculator HTTP/1.1\r\nHost: 10.20.0.50:8000\r\nx-api-key: 00000000-0000-0000-0000-000000000000\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
            form.len()
        );
        let mut s = self.session(host(23), host(50), 8000);
        s.open(w)?;
        s.client_send(w, &[req.as_bytes(), &form].concat())?;
        let resp = format!(
            r#"{{"result":[{{"box":{{"probability":0.99,"x_max":300,"y_max":260,"x_min":120,"y_min":40}},"embedding":[0.0123,-0.0456,0.0789],"subjects":[{{"subject":"{PLANTED_NAME}","similarity":0.97}}]}}]}}"#
        );
        s.server_send(
            w,
            &http_response(
                "200 OK",
                &[("Content-Type", "application/json".into())],
                resp.as_bytes(),
            ),
        )?;
        s.close(w)?;
        self.done(&s);

        // 10.20.0.31: Frigate publishing a face-recognition result over MQTT.
        let mut s = self.session(host(31), broker, 1883);
        s.open(w)?;
        s.client_send(w, &mqtt_connect("frigate"))?;
        s.server_send(w, &[0x20, 0x02, 0x00, 0x00])?;
        let payload = format!(
            r#"{{"type":"face","id":"1793610000.475377-mxklsc","name":"{PLANTED_NAME}","score":0.95,"camera":"lobby","timestamp":1793610003.748393}}"#
        );
        s.client_send(
            w,
            &mqtt_publish("frigate/tracked_object_update", payload.as_bytes()),
        )?;
        s.close(w)?;
        self.done(&s);

        // 10.20.0.32: Frigate detecting faces as an attribute of people (no recognition).
        let mut s = self.session(host(32), broker, 1883);
        s.open(w)?;
        s.client_send(w, &mqtt_connect("frigate-garage"))?;
        s.server_send(w, &[0x20, 0x02, 0x00, 0x00])?;
        let payload = r#"{"type":"new","before":{"id":"1793610010.1-abc","camera":"garage","label":"person","sub_label":null,"attributes":{},"current_attributes":[]},"after":{"id":"1793610010.1-abc","camera":"garage","label":"person","sub_label":null,"score":0.83,"attributes":{"face":0.86},"current_attributes":[{"label":"face","box":[442,506,534,524],"score":0.86}]}}"#;
        s.client_send(w, &mqtt_publish("frigate/events", payload.as_bytes()))?;
        s.close(w)?;
        self.done(&s);

        // 10.20.0.41: ONVIF camera answering PullMessages with a face-recognition event.
        self.onvif_pull(
            w,
            vms,
            host(41),
            "tns1:RuleEngine/Recognition/Face",
            r#"<tt:Source><tt:SimpleItem Name="VideoSource" Value="vs1"/><tt:SimpleItem Name="Rule" Value="Watchlist"/></tt:Source><tt:Data><tt:SimpleItem Name="Likelihood" Value="0.91"/><tt:SimpleItem Name="EnrollmentID" Value="emp-0041"/><tt:SimpleItem Name="Label" Value="Maria Example-Planted"/></tt:Data>"#,
        )?;

        // 10.20.0.42: camera with an ONVIF metadata track estimating gender and age.
        self.onvif_metadata_camera(w, vms, host(42))?;

        // 10.20.0.43: people counter.
        self.onvif_pull(
            w,
            vms,
            host(43),
            "tns1:RuleEngine/CountAggregation/Counter",
            r#"<tt:Source><tt:SimpleItem Name="VideoSource" Value="vs1"/><tt:SimpleItem Name="Rule" Value="EntranceCount"/></tt:Source><tt:Data><tt:SimpleItem Name="Count" Value="17"/></tt:Data>"#,
        )?;
        Ok(())
    }

    fn hikvision_stream<W: Write>(
        &mut self,
        w: &mut PcapWriter<W>,
        nvr: Host,
        cam: Host,
        event_type: &str,
        extra: &str,
    ) -> io::Result<()> {
        let mut s = self.session(nvr, cam, 80);
        s.open(w)?;
        let req = format!(
            "GET /ISAPI/Event/notification/alertStream HTTP/1.1\r\nHost: {}\r\nAuthorization: Digest username=\"admin\", realm=\"DS-2CD\", nonce=\"x\", uri=\"/ISAPI/Event/notification/alertStream\", response=\"0\"\r\nConnection: keep-alive\r\n\r\n",
            cam.ip
        );
        s.client_send(w, req.as_bytes())?;
        s.server_send(
            w,
            b"HTTP/1.1 200 OK\r\nContent-Type: multipart/mixed; boundary=boundary\r\nConnection: close\r\n\r\n",
        )?;
        let ip = cam.ip.to_string();
        let mut stream = Vec::new();
        stream.extend(multipart_part(
            "boundary",
            "application/xml; charset=\"UTF-8\"",
            hik_alert(&ip, "videoloss", "", "2026-11-02T09:00:01+00:00")
                .replace("<eventState>active", "<eventState>inactive")
                .as_bytes(),
        ));
        stream.extend(multipart_part(
            "boundary",
            "application/xml; charset=\"UTF-8\"",
            hik_alert(&ip, event_type, extra, "2026-11-02T09:00:02+00:00").as_bytes(),
        ));
        stream.extend(multipart_part("boundary", "image/jpeg", &fake_jpeg(6000)));
        s.server_send(w, &stream)?;
        s.close(w)?;
        self.done(&s);
        Ok(())
    }

    fn dahua_stream<W: Write>(
        &mut self,
        w: &mut PcapWriter<W>,
        nvr: Host,
        cam: Host,
        part: &str,
    ) -> io::Result<()> {
        let mut s = self.session(nvr, cam, 80);
        s.open(w)?;
        let req = format!(
            "GET /cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=5 HTTP/1.1\r\nHost: {}\r\nAuthorization: Digest username=\"admin\", realm=\"Login to 4L0C\", nonce=\"x\", uri=\"/cgi-bin/eventManager.cgi\", response=\"0\"\r\n\r\n",
            cam.ip
        );
        s.client_send(w, req.as_bytes())?;
        s.server_send(
            w,
            b"HTTP/1.1 200 OK\r\nServer: Device/1.0\r\nContent-Type: multipart/x-mixed-replace; boundary=myboundary\r\nConnection: close\r\n\r\n",
        )?;
        let mut stream = Vec::new();
        stream.extend(multipart_part("myboundary", "text/plain", b"Heartbeat"));
        stream.extend(multipart_part("myboundary", "text/plain", part.as_bytes()));
        s.server_send(w, &stream)?;
        s.close(w)?;
        self.done(&s);
        Ok(())
    }

    fn onvif_pull<W: Write>(
        &mut self,
        w: &mut PcapWriter<W>,
        vms: Host,
        cam: Host,
        topic: &str,
        items: &str,
    ) -> io::Result<()> {
        let mut s = self.session(vms, cam, 80);
        s.open(w)?;
        let body = r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tev="http://www.onvif.org/ver10/events/wsdl"><s:Body><tev:PullMessages><tev:Timeout>PT5S</tev:Timeout><tev:MessageLimit>10</tev:MessageLimit></tev:PullMessages></s:Body></s:Envelope>"#;
        let req = format!(
            "POST /onvif/Events/PullSubManager_1 HTTP/1.1\r\nHost: {}\r\nContent-Type: application/soap+xml; charset=utf-8; action=\"http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest\"\r\nContent-Length: {}\r\n\r\n{body}",
            cam.ip,
            body.len()
        );
        s.client_send(w, req.as_bytes())?;
        let resp = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tns1="http://www.onvif.org/ver10/topics"><env:Body><tev:PullMessagesResponse><tev:CurrentTime>2026-11-02T09:00:05Z</tev:CurrentTime><tev:TerminationTime>2026-11-02T09:01:05Z</tev:TerminationTime><wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">{topic}</wsnt:Topic><wsnt:Message><tt:Message UtcTime="2026-11-02T09:00:05Z" PropertyOperation="Changed">{items}</tt:Message></wsnt:Message></wsnt:NotificationMessage></tev:PullMessagesResponse></env:Body></env:Envelope>"#
        );
        s.server_send(
            w,
            &http_response(
                "200 OK",
                &[("Content-Type", "application/soap+xml; charset=utf-8".into())],
                resp.as_bytes(),
            ),
        )?;
        s.close(w)?;
        self.done(&s);
        Ok(())
    }

    fn onvif_metadata_camera<W: Write>(
        &mut self,
        w: &mut PcapWriter<W>,
        vms: Host,
        cam: Host,
    ) -> io::Result<()> {
        let mut s = self.session(vms, cam, 554);
        s.open(w)?;
        let url = format!("rtsp://{}/onvif/profile1", cam.ip);
        s.client_send(
            w,
            format!("DESCRIBE {url} RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n")
                .as_bytes(),
        )?;
        let sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=Profile 1\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:{url}/video\r\nm=application 0 RTP/AVP 107\r\na=rtpmap:107 vnd.onvif.metadata/90000\r\na=control:{url}/metadata\r\na=recvonly\r\n",
            ip = cam.ip
        );
        s.server_send(
            w,
            format!(
                "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Base: {url}/\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                sdp.len()
            )
            .as_bytes(),
        )?;
        s.client_send(
            w,
            format!("SETUP {url}/metadata RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP/TCP;unicast;interleaved=2-3\r\n\r\n").as_bytes(),
        )?;
        s.server_send(
            w,
            b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: 12345678;timeout=60\r\nTransport: RTP/AVP/TCP;unicast;interleaved=2-3\r\n\r\n",
        )?;
        s.client_send(
            w,
            format!("PLAY {url} RTSP/1.0\r\nCSeq: 4\r\nSession: 12345678\r\n\r\n").as_bytes(),
        )?;
        s.server_send(
            w,
            b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: 12345678\r\n\r\n",
        )?;
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?><tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:fc="http://www.onvif.org/ver20/analytics/humanface"><tt:VideoAnalytics><tt:Frame UtcTime="2026-11-02T09:00:06.321Z" Source="FaceAnalytics"><tt:Object ObjectId="15"><tt:Appearance><tt:Class><tt:Type Likelihood="0.8">HumanFace</tt:Type></tt:Class><tt:HumanFace><fc:Gender>Male</fc:Gender><fc:Age><tt:Min>20</tt:Min><tt:Max>30</tt:Max></fc:Age></tt:HumanFace></tt:Appearance></tt:Object></tt:Frame></tt:VideoAnalytics></tt:MetadataStream>"#;
        let mut rtp = rtp_packet(107, 1, 90_000, 0x4242_4242, xml.as_bytes());
        rtp[1] |= 0x80; // marker: the XML document ends in this packet
        let mut frame = vec![b'$', 2];
        frame.extend_from_slice(&(rtp.len() as u16).to_be_bytes());
        frame.extend_from_slice(&rtp);
        s.server_send(w, &frame)?;
        s.close(w)?;
        self.done(&s);
        Ok(())
    }

    /// Bulk camera video: `packets` RTP/UDP packets of ~1.4 kB from six cameras to the NVR,
    /// and an RTSP-interleaved TCP video stream, the bulk of any camera VLAN's bytes.
    pub fn video<W: Write>(&mut self, w: &mut PcapWriter<W>, packets: usize) -> io::Result<()> {
        let nvr = host(2);
        let payload: Vec<u8> = (0..1380u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let cams = [11u8, 12, 13, 14, 41, 42];
        let mut tcp = self.session(nvr, host(44), 554);
        tcp.open(w)?;
        tcp.client_send(
            w,
            b"PLAY rtsp://10.20.0.44/stream1 RTSP/1.0\r\nCSeq: 5\r\nSession: 99\r\n\r\n",
        )?;
        tcp.server_send(w, b"RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession: 99\r\n\r\n")?;
        tcp.ts = self.ts;
        for i in 0..packets {
            let cam = cams[i % cams.len()];
            let seq = (i / cams.len()) as u16;
            let rtp = rtp_packet(
                96,
                seq,
                (i as u32).wrapping_mul(3000),
                u32::from(cam),
                &payload,
            );
            if i % 8 == 7 {
                // Interleaved RTP over the RTSP TCP connection.
                let mut frame = vec![b'$', 0];
                frame.extend_from_slice(&(rtp.len() as u16).to_be_bytes());
                frame.extend_from_slice(&rtp);
                tcp.ts = self.ts;
                tcp.server_send(w, &frame)?;
            } else {
                w.packet(
                    self.ts,
                    &udp_frame(
                        &host(cam),
                        50_000 + u16::from(cam),
                        &nvr,
                        60_000 + u16::from(cam),
                        seq,
                        &rtp,
                    ),
                )?;
            }
            self.ts += 0.0002;
        }
        tcp.ts = self.ts;
        tcp.close(w)?;
        self.done(&tcp);
        Ok(())
    }
}

/// The shipped sample capture: one round of events with a little video.
pub fn write_sample<W: Write>(out: W) -> io::Result<PcapWriter<W>> {
    let mut w = PcapWriter::new(out, 1)?;
    let mut site = DemoSite::new();
    site.video(&mut w, 200)?;
    site.events(&mut w)?;
    site.video(&mut w, 200)?;
    Ok(w)
}

/// A large capture of about `target_bytes`: video with a round of events every ~20 MB.
pub fn write_bulk<W: Write>(out: W, target_bytes: u64) -> io::Result<PcapWriter<W>> {
    let mut w = PcapWriter::new(out, 1)?;
    let mut site = DemoSite::new();
    while w.bytes < target_bytes {
        site.events(&mut w)?;
        site.video(&mut w, 14_000)?;
    }
    Ok(w)
}
