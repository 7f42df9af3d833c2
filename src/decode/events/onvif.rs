//! ONVIF SOAP envelopes (events, analytics) and metadata-stream frames.
//!
//! Emits (`proto = "onvif"`): `action` (first element inside `Body`), `topic` (`wsnt:Topic`
//! text, and TopicSet leaves as `prefix:A/B/C` paths), `data_item` (`SimpleItem`/`ElementItem`
//! names in Source/Key/Data), `rule_type` (`RuleDescription Name=`, `Rule Type=`),
//! `object.class` (`Class/Type`, `ClassCandidate/Type` text), `appearance` (children of
//! `Appearance`), `face_attribute` (humanface-namespace children of `HumanFace`).
//! SimpleItem *values* (labels, enrolment ids, image URIs) are never emitted.

use super::xml::{Node, Tree};
use super::Sink;

const P: &str = "onvif";
const HUMANFACE_NS: &str = "http://www.onvif.org/ver20/analytics/humanface";

fn is_onvif(tree: &Tree) -> bool {
    let Some(root) = tree.root() else {
        return false;
    };
    matches!(root.name.as_str(), "Envelope" | "MetadataStream")
        || tree.nodes.iter().any(|n| {
            n.ns.as_deref()
                .is_some_and(|ns| ns.starts_with("http://www.onvif.org/"))
        })
}

pub fn decode(tree: &Tree, sink: &mut Sink<'_, '_>) {
    if !is_onvif(tree) {
        return;
    }
    if let Some(root) = tree.root() {
        if root.name == "Envelope" {
            if let Some(first) = tree
                .child(root, "Body")
                .and_then(|b| tree.children(b).next())
            {
                sink.emit_enum(P, "action", &first.name);
            }
        }
    }
    for n in &tree.nodes {
        let parent = tree.parent(n).map(|p| p.name.as_str()).unwrap_or("");
        match n.name.as_str() {
            "Topic" => sink.emit_enum(P, "topic", &n.text),
            "TopicSet" => topic_set(tree, n, sink),
            "SimpleItem" | "ElementItem" if matches!(parent, "Data" | "Source" | "Key") => {
                if let Some(name) = n.attr("Name") {
                    sink.emit_enum(P, "data_item", name);
                }
            }
            "RuleDescription" => {
                if let Some(name) = n.attr("Name") {
                    sink.emit_enum(P, "rule_type", name);
                }
            }
            "Rule" => {
                if let Some(t) = n.attr("Type") {
                    sink.emit_enum(P, "rule_type", t);
                }
            }
            "Type" if matches!(parent, "Class" | "ClassCandidate") => {
                sink.emit_enum(P, "object.class", &n.text);
            }
            "Appearance" => {
                for c in tree.children(n) {
                    sink.emit(P, "appearance", &c.name);
                }
            }
            "HumanFace" => {
                for c in tree.children(n) {
                    let in_ns = c.ns.as_deref() == Some(HUMANFACE_NS)
                        || (c.ns.is_none() && c.qname.starts_with("fc:"));
                    if in_ns {
                        sink.emit(P, "face_attribute", &c.name);
                    }
                }
            }
            _ => {}
        }
    }
}

/// TopicSet leaves marked `wstop:topic="true"` → `tns1:RuleEngine/Recognition/Face`.
fn topic_set(tree: &Tree, set: &Node, sink: &mut Sink<'_, '_>) {
    // Iterative DFS with an explicit path; the tree itself is already depth- and size-bounded.
    let mut stack: Vec<(usize, String)> = set
        .children
        .iter()
        .rev()
        .filter_map(|&c| tree.get(c).map(|n| (c, n.qname.clone())))
        .collect();
    while let Some((idx, path)) = stack.pop() {
        let Some(n) = tree.get(idx) else { continue };
        if n.attr("topic") == Some("true") {
            sink.emit_enum(P, "topic", &path);
        }
        for &c in n.children.iter().rev() {
            if let Some(cn) = tree.get(c) {
                // Message descriptions are payload schema, not topic levels.
                if cn.name == "MessageDescription" {
                    continue;
                }
                stack.push((c, format!("{path}/{}", cn.name)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    const FRAME_ATTRS_ONLY: &str = r#"<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema"
        xmlns:fc="http://www.onvif.org/ver20/analytics/humanface">
  <tt:VideoAnalytics>
    <tt:Frame UtcTime="2021-10-05T15:13:27.321" Source="MyClassifier">
      <tt:Object ObjectId="15">
        <tt:Appearance>
          <tt:Class>
            <tt:Type Likelihood="0.8">Human</tt:Type>
          </tt:Class>
          <tt:HumanFace>
            <fc:Gender>Male</fc:Gender>
            <fc:Age>
              <tt:Min>20</tt:Min>
              <tt:Max>30</tt:Max>
            </fc:Age>
            <fc:Accessory>
              <fc:Opticals>
                <fc:Wear>True</fc:Wear>
              </fc:Opticals>
              <fc:Hat>
                <fc:Wear>True</fc:Wear>
              </fc:Hat>
            </fc:Accessory>
          </tt:HumanFace>
        </tt:Appearance>
      </tt:Object>
    </tt:Frame>
  </tt:VideoAnalytics>
</tt:MetadataStream>"#;

    const NOTIFY_RECOGNITION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"
  xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema"
  xmlns:tns1="http://www.onvif.org/ver10/topics" xmlns:tev="http://www.onvif.org/ver10/events/wsdl">
 <SOAP-ENV:Header/>
 <SOAP-ENV:Body>
  <tev:PullMessagesResponse>
   <tev:CurrentTime>2024-01-01T00:00:00Z</tev:CurrentTime>
   <wsnt:NotificationMessage>
    <wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">
      tns1:RuleEngine/Recognition/Face
    </wsnt:Topic>
    <wsnt:Message>
     <tt:Message UtcTime="2024-01-01T00:00:00Z" PropertyOperation="Changed">
      <tt:Source>
       <tt:SimpleItem Name="VideoSource" Value="vs0"/>
       <tt:SimpleItem Name="Rule" Value="MyFaceRule"/>
      </tt:Source>
      <tt:Data>
       <tt:SimpleItem Name="Likelihood" Value="0.93"/>
       <tt:SimpleItem Name="EnrollmentID" Value="emp-4711"/>
       <tt:SimpleItem Name="Label" Value="Jane Doe"/>
       <tt:SimpleItem Name="RefImageUri" Value="http://10.0.0.9/ref/4711.jpg"/>
      </tt:Data>
     </tt:Message>
    </wsnt:Message>
   </wsnt:NotificationMessage>
  </tev:PullMessagesResponse>
 </SOAP-ENV:Body>
</SOAP-ENV:Envelope>"#;

    #[test]
    fn attributes_only_frame() {
        let o = body(Some("application/xml"), FRAME_ATTRS_ONLY.as_bytes());
        assert!(has(&o, "onvif", "object.class", "Human"));
        assert!(has(&o, "onvif", "appearance", "HumanFace"));
        assert!(has(&o, "onvif", "appearance", "Class"));
        for a in ["Gender", "Age", "Accessory"] {
            assert!(has(&o, "onvif", "face_attribute", a), "{a}");
        }
        // Grandchildren are not top-level attributes; tt: children never are.
        assert!(!has(&o, "onvif", "face_attribute", "Opticals"));
        assert!(!any(&o, "onvif", "topic"));
        assert!(!any(&o, "onvif", "data_item"));
        assert!(!any(&o, "onvif", "action"));
    }

    #[test]
    fn recognition_notify() {
        let o = body(Some("application/soap+xml"), NOTIFY_RECOGNITION.as_bytes());
        assert!(has(&o, "onvif", "action", "PullMessagesResponse"));
        assert!(has(
            &o,
            "onvif",
            "topic",
            "tns1:RuleEngine/Recognition/Face"
        ));
        for d in [
            "EnrollmentID",
            "Likelihood",
            "Label",
            "RefImageUri",
            "VideoSource",
            "Rule",
        ] {
            assert!(has(&o, "onvif", "data_item", d), "{d}");
        }
        assert_private(&o, &["emp-4711", "Jane", "4711.jpg", "MyFaceRule"]);
    }

    #[test]
    fn object_detection_human_face_class() {
        let doc = r#"<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema"><tt:VideoAnalytics><tt:Frame UtcTime="x"><tt:Object ObjectId="1"><tt:Appearance><tt:Shape/><tt:Class><tt:ClassCandidate><tt:Type>Face</tt:Type><tt:Likelihood>0.9</tt:Likelihood></tt:ClassCandidate><tt:Type Likelihood="0.9">HumanFace</tt:Type></tt:Class></tt:Appearance></tt:Object></tt:Frame></tt:VideoAnalytics></tt:MetadataStream>"#;
        let o = body(None, doc.as_bytes());
        assert!(has(&o, "onvif", "object.class", "HumanFace"));
        assert!(has(&o, "onvif", "object.class", "Face"));
        assert!(has(&o, "onvif", "appearance", "Shape"));
    }

    #[test]
    fn supported_rules_response() {
        let doc = format!(
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tan="http://www.onvif.org/ver20/analytics/wsdl"><s:Body><tan:GetSupportedRulesResponse><tan:SupportedRules>{}</tan:SupportedRules></tan:GetSupportedRulesResponse></s:Body></s:Envelope>"#,
            r#"<tt:RuleDescription Name="tt:FaceRecognition">
  <tt:Parameters>
    <tt:SimpleItemDescription Name="IncludeImage" Type="xs:string"/>
  </tt:Parameters>
  <tt:Messages>
    <tt:Source>
      <tt:SimpleItemDescription Name="VideoSource" Type="tt:ReferenceToken"/>
    </tt:Source>
    <tt:Data>
      <tt:SimpleItemDescription Name="EnrollmentID" Type="xs:string"/>
    </tt:Data>
    <tt:ParentTopic>
      tns1:RuleEngine/Recognition/Face
    </tt:ParentTopic>
  </tt:Messages>
</tt:RuleDescription>"#
        );
        let o = body(None, doc.as_bytes());
        assert!(has(&o, "onvif", "action", "GetSupportedRulesResponse"));
        assert!(has(&o, "onvif", "rule_type", "tt:FaceRecognition"));
    }

    #[test]
    fn get_rules_and_topic_set() {
        let doc = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:wstop="http://docs.oasis-open.org/wsn/t-1" xmlns:tns1="http://www.onvif.org/ver10/topics" xmlns:tev="http://www.onvif.org/ver10/events/wsdl"><s:Body><tev:GetEventPropertiesResponse><wstop:TopicSet><tns1:RuleEngine><Recognition><Face wstop:topic="true"><tt:MessageDescription><tt:Data><tt:SimpleItemDescription Name="EnrollmentID"/></tt:Data></tt:MessageDescription></Face></Recognition><CountAggregation><Counter wstop:topic="true"/></CountAggregation></tns1:RuleEngine></wstop:TopicSet><tt:Rule Name="r1" Type="tt:FaceRecognition"/></tev:GetEventPropertiesResponse></s:Body></s:Envelope>"#;
        let o = body(None, doc.as_bytes());
        assert!(has(
            &o,
            "onvif",
            "topic",
            "tns1:RuleEngine/Recognition/Face"
        ));
        assert!(has(
            &o,
            "onvif",
            "topic",
            "tns1:RuleEngine/CountAggregation/Counter"
        ));
        assert!(has(&o, "onvif", "rule_type", "tt:FaceRecognition"));
        assert!(!has(&o, "onvif", "rule_type", "r1"));
    }

    #[test]
    fn non_onvif_xml_is_ignored() {
        let o = body(None, b"<Topic>x</Topic>");
        assert!(!o.iter().any(|(p, _, _)| p == "onvif"));
    }
}
