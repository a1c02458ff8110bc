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

/// Runs `machizu` to completion; returns stdout, asserting success.
fn run_ok(args: &[&str]) -> String {
    let out = machizu(args).output().unwrap();
    assert!(out.status.success(), "machizu {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn vehicles_registered_on_the_command_line_report_to_the_osmand_listener_until_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let credential = run_ok(&[
        "vehicles",
        "add",
        "--data",
        data,
        "--id",
        "plow-07",
        "--name",
        "除雪ドーザ 7号",
        "--kind",
        "plow",
        "--operator",
        "尾花沢建設",
    ]);
    let credential = credential.trim();
    assert_eq!(credential.len(), 40, "{credential:?}");
    let list = run_ok(&["vehicles", "list", "--data", data]);
    assert!(list.contains("plow-07") && list.contains("尾花沢建設") && !list.contains(credential), "{list}");
    let refused = machizu(&["vehicles", "add", "--data", data, "--id", "plow-07", "--name", "x", "--kind", "plow"])
        .output()
        .unwrap();
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("already registered"));

    // A free port for the OsmAnd listener.
    let osmand = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let mut child =
        machizu(&["serve", "--listen", "127.0.0.1:0", "--no-demo", "--data", data, "--osmand-listen", &osmand])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
    let addr = wait_for_address(&mut child);
    let deadline = Instant::now() + Duration::from_secs(20);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let report = |id: &str, t: u64| loop {
        // The OsmAnd listener starts just after the main one.
        if let Ok(mut s) = TcpStream::connect(&osmand) {
            write!(s, "POST /?id={id}&lat=38.6&lon=140.4&timestamp={t}&speed=12 HTTP/1.1\r\nHost: {osmand}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            break out;
        }
        assert!(Instant::now() < deadline, "the OsmAnd listener did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    let ok = report(credential, now);
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    // Traccar Client's JSON to the same root.
    let json = format!(
        r#"{{"device_id":"{credential}","location":{{"timestamp":{},"coords":{{"latitude":38.6001,"longitude":140.4,"speed":6.0}}}}}}"#,
        now + 5
    );
    let mut stream = TcpStream::connect(&osmand).unwrap();
    write!(stream, "POST / HTTP/1.1\r\nHost: {osmand}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}", json.len()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("\"accepted\":1"), "{answer}");
    let unknown = report("0000000000000000000000000000000000000000", now);
    assert!(unknown.starts_with("HTTP/1.1 403"), "{unknown}");
    let mut stream = TcpStream::connect(&osmand).unwrap();
    write!(stream, "DELETE / HTTP/1.1\r\nHost: {osmand}\r\nConnection: close\r\n\r\n").unwrap();
    let mut wrong = String::new();
    stream.read_to_string(&mut wrong).unwrap();
    assert!(wrong.starts_with("HTTP/1.1 405") && wrong.contains("\"error\":\"method_not_allowed\""), "{wrong}");
    let live = http_get(&addr, "/live/vehicles");
    assert!(live.contains("除雪ドーザ 7号") && live.contains("21.6"), "the Traccar fix, 6 m/s: {live}");

    // Revoked by another process: refused within the device cache's two seconds.
    run_ok(&["vehicles", "revoke", "plow-07", "--data", data]);
    std::thread::sleep(Duration::from_millis(2500));
    let revoked = report(credential, now + 10);
    assert!(revoked.starts_with("HTTP/1.1 403"), "{revoked}");
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
}

/// Runs `machizu` with `input` on standard input; returns (success, stdout, stderr).
fn run_with_input(args: &[&str], input: &str) -> (bool, String, String) {
    let mut child = machizu(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn staff_accounts_are_managed_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let add = ["users", "add", "tanaka", "--display-name", "田中 花子", "--role", "admin", "--data", data];
    let (ok, _, err) = run_with_input(&add, "short\n");
    assert!(!ok && err.contains("at least 12"), "{err}");
    let (ok, _, err) = run_with_input(&add, "雪の夜の見回り 2026\n");
    assert!(ok, "{err}");
    let (ok, _, err) = run_with_input(&add, "雪の夜の見回り 2026\n");
    assert!(!ok && err.contains("exists already"), "{err}");
    let (ok, _, err) =
        run_with_input(&["users", "add", "Bad Name", "--display-name", "x", "--data", data], "long enough password\n");
    assert!(!ok && err.contains("lowercase"), "{err}");

    let list = run_ok(&["users", "list", "--data", data]);
    assert!(list.contains("tanaka") && list.contains("admin") && list.contains("田中 花子"), "{list}");
    assert!(!list.contains("argon2") && !list.contains("雪の夜"), "no password or hash is shown: {list}");
    let line = list.lines().find(|l| l.starts_with("tanaka")).unwrap();
    assert_eq!(line.split_whitespace().nth(3), Some("-"), "not disabled: {line}");

    let (ok, _, err) = run_with_input(&["users", "passwd", "tanaka", "--data", data], "another long password\n");
    assert!(ok, "{err}");
    let (ok, _, err) = run_with_input(&["users", "passwd", "nobody", "--data", data], "another long password\n");
    assert!(!ok && err.contains("no user"), "{err}");
    run_ok(&["users", "disable", "tanaka", "--data", data]);
    let list = run_ok(&["users", "list", "--data", data]);
    let line = list.lines().find(|l| l.starts_with("tanaka")).unwrap();
    let disabled = line.split_whitespace().nth(3).unwrap();
    assert!(disabled.ends_with('Z'), "disabled at a time: {line}");
    let again = machizu(&["users", "disable", "tanaka", "--data", data]).output().unwrap();
    assert!(!again.status.success());
}
