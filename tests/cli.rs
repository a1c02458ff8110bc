//! The binary: `machizu serve` starts on a free port, `--no-demo` starts empty, a bad config is
//! refused with a clear message, and SIGTERM shuts the server down cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn machizu(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_machizu"));
    c.args(args).env("NO_COLOR", "1").env("RUST_LOG", "machizu=info");
    c
}

/// Waits for the "serving" log line and returns the address.
fn wait_for_address(child: &mut Child) -> String {
    let out = BufReader::new(child.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(120);
    for line in out.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("address=").nth(1) {
            return rest.trim().to_owned();
        }
        assert!(Instant::now() < deadline, "machizu did not start");
    }
    panic!("machizu exited before serving");
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serves_empty_with_no_demo_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = machizu(&["serve", "--listen", "127.0.0.1:0", "--no-demo", "--data", dir.path().to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = wait_for_address(&mut child);
    let health = http_get(&addr, "/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let layers = http_get(&addr, "/layers");
    assert!(
        layers.contains("\"feature_count\":0") && !layers.contains("\"feature_count\":1"),
        "--no-demo starts empty"
    );
    assert!(dir.path().join("machizu.gpkg").exists(), "the GeoPackage is created on first start");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "machizu did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
}

#[test]
fn a_bad_config_file_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("machizu.toml");
    std::fs::write(&config, "[server]\nlisten_port = 80\n").unwrap();
    let out = machizu(&["serve", "--config", config.to_str().unwrap(), "--data", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listen_port") && err.contains("machizu.toml"), "{err}");
}
