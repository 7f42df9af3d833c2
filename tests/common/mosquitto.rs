//! A real mosquitto broker on a loopback port, for the tests that speak MQTT (Debian package
//! `mosquitto`; the test fails naming it when absent). Killed when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start mosquitto on `127.0.0.1:port` (anonymous, no persistence, no connection limit) with
/// its configuration in `dir`; returns once it listens.
pub fn start(dir: &Path, port: u16) -> Broker {
    let exe = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("mosquitto is missing: install the Debian package mosquitto (scripts/setup.sh test does)");
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_connections -1\n"
        ),
    )
    .expect("write mosquitto.conf");
    let child = Command::new(exe)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mosquitto");
    let broker = Broker(child);
    // Wait until it listens (the guard kills it if it never does).
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return broker;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(broker);
    panic!("mosquitto did not start listening on {port}");
}
