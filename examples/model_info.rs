//! Prints what the model parsers read from files: `cargo run --example model_info -- FILE...`
fn main() {
    for p in std::env::args().skip(1) {
        let Ok(b) = std::fs::read(&p) else { continue };
        let name = p.rsplit('/').next().unwrap_or(&p).to_string();
        match banwatch::decode::models::sniff_and_parse(&name, &b, &|_| None) {
            None => println!("{p}: not a model"),
            Some(Err(e)) => println!("{p}: error {e}"),
            Some(Ok(i)) => {
                let ops: Vec<String> = i
                    .ops
                    .iter()
                    .take(12)
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect();
                let last: Vec<String> = i
                    .weights
                    .iter()
                    .rev()
                    .take(4)
                    .map(|w| format!("{}{:?}", w.name, w.shape))
                    .collect();
                println!(
                    "{p}\n  structural_hash={}\n  fmt={:?} in={:?}\n  out={:?}\n  ops={}\n  w={} params={} last={:?}\n  facts={:?} notes={:?}",
                    banwatch::detect::fingerprint::structural_hash(&i),
                    i.format,
                    i.inputs.iter().map(|t| t.shape.clone()).collect::<Vec<_>>(),
                    i.outputs.iter().map(|t| (t.name.clone(), t.shape.clone())).collect::<Vec<_>>(),
                    ops.join(" "),
                    i.weights.len(),
                    i.params,
                    last,
                    i.facts,
                    i.notes
                );
            }
        }
    }
}
