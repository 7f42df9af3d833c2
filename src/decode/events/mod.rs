//! Event and message bodies (XML/JSON/text) shared by HTTP, MQTT, RTSP metadata: being written.
