//! Every shipped audit check (models/checks) fires on each of its `positive` answers and stays
//! quiet on each of its `negative` ones; a check that proves only detection never makes a
//! recognition check of the same request fire; and the README's checks table names every check.

use banwatch::detect::checks::CheckSet;

fn shipped() -> CheckSet {
    CheckSet::load_dir(&CheckSet::default_dir()).expect("shipped checks load")
}

#[test]
fn every_check_fires_on_positives_and_stays_quiet_on_negatives() {
    let set = shipped();
    assert!(set.products.len() >= 6, "{} products", set.products.len());
    let mut failures = Vec::new();
    for pc in &set.products {
        for c in &pc.checks {
            assert!(!c.source.trim().is_empty(), "{} has no source", c.id);
            for (i, body) in c.positive.iter().enumerate() {
                match c.evaluate(body.as_bytes()) {
                    Ok((true, _)) => {}
                    other => failures.push(format!("{} positive {i}: {other:?}", c.id)),
                }
            }
            for (i, body) in c.negative.iter().enumerate() {
                if let Ok((true, v)) = c.evaluate(body.as_bytes()) {
                    failures.push(format!("{} negative {i} fired with {v}", c.id));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn detection_answers_never_fire_recognition_checks() {
    let set = shipped();
    let mut pairs = 0;
    for pc in &set.products {
        for det in pc
            .checks
            .iter()
            .filter(|c| !c.technique.is_biometric_identification())
        {
            for rec in pc.checks.iter().filter(|c| {
                c.technique.is_biometric_identification() && c.request.path == det.request.path
            }) {
                for body in &det.positive {
                    pairs += 1;
                    let fired = rec
                        .evaluate(body.as_bytes())
                        .map(|(f, _)| f)
                        .unwrap_or(false);
                    assert!(
                        !fired,
                        "{}'s detection answer fires {}: {body}",
                        det.id, rec.id
                    );
                }
            }
        }
    }
    assert!(
        pairs > 0,
        "no detection check shares a request with a recognition check"
    );
}

#[test]
fn the_readme_table_lists_every_check() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    for pc in &shipped().products {
        for c in &pc.checks {
            assert!(
                readme.contains(&format!("`{}`", c.id)),
                "README lacks {}",
                c.id
            );
        }
    }
}
