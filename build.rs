//! Tells the tests whether a Docker engine is there, so a test that needs one is reported as *ignored*
//! (visible in cargo test's summary) instead of passing without having run: `cfg(dockui_engine)` is set
//! when the engine answers `/_ping` at build time, or always with DOCKUI_REQUIRE_DOCKER=1 (CI), where a
//! missing engine then fails the tests. Re-run when the socket or those variables change.

use std::io::{Read, Write};
use std::time::Duration;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(dockui_engine)");
    println!("cargo::rerun-if-env-changed=DOCKUI_REQUIRE_DOCKER");
    println!("cargo::rerun-if-env-changed=DOCKER_HOST");
    println!("cargo::rerun-if-changed=build.rs");
    let host = std::env::var("DOCKER_HOST").unwrap_or_default();
    let socket = host
        .strip_prefix("unix://")
        .unwrap_or("/var/run/docker.sock")
        .to_string();
    // A restarted engine makes a new socket (new mtime). A missing socket is not watched (that would
    // rebuild every time): start the engine, then touch build.rs or set DOCKUI_REQUIRE_DOCKER.
    if (host.is_empty() || host.starts_with("unix://")) && std::path::Path::new(&socket).exists() {
        println!("cargo::rerun-if-changed={socket}");
    }
    // The hadolint agreement test runs whenever the peer test data is there.
    println!("cargo::rustc-check-cfg=cfg(dockui_hadolint_cases)");
    let cases = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("../shared/testdata/hadolint_cases.jsonl");
    if cases.is_file() {
        // Watching a missing path would re-run this script (and rebuild the crate) on every build.
        println!("cargo::rerun-if-changed={}", cases.display());
        println!("cargo::rustc-cfg=dockui_hadolint_cases");
    }
    let required = std::env::var("DOCKUI_REQUIRE_DOCKER").as_deref() == Ok("1");
    if required || ping(&host, &socket) {
        println!("cargo::rustc-cfg=dockui_engine");
    }
    // The other real parts the backend tests drive: present (installed by .ci/run) or required (CI).
    // Without them those tests are reported as ignored, never as passed.
    for (cfg, found) in [
        ("dockui_podman", which("podman")),
        (
            "dockui_sshd",
            std::path::Path::new("/usr/sbin/sshd").exists(),
        ),
        (
            "dockui_qemu",
            std::path::Path::new("/usr/bin/qemu-aarch64-static").exists(),
        ),
        ("dockui_moto", moto_server().is_some()),
        // Rootless Podman (tests/podman_rootless.rs): Podman, the setuid id mappers from `uidmap`, and root to
        // make the test users and their /etc/subuid ranges.
        (
            "dockui_rootless",
            which("podman")
                && std::path::Path::new("/usr/bin/newuidmap").exists()
                && std::path::Path::new("/usr/bin/newgidmap").exists()
                && is_root(),
        ),
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if required || found {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
    println!("cargo::rerun-if-env-changed=DOCKUI_MOTO_SERVER");
    println!("cargo::rerun-if-env-changed=PATH");
    embed_compat_rows();
}

/// The compatibility data stays TOML in the tree (reviewable, commented); the binary embeds the same rows as
/// Rust code that builds them (`compat_rows.rs`, included by src/analyze/compat.rs), so no parser runs at
/// start: `dockui check` runs once per file in CI and pre-commit hooks, where start-up is most of its time.
/// A TOML error or an unknown table fails the build with the file's own message; a field the row structs do
/// not have, or a value of the wrong type, fails it at compile time.
fn embed_compat_rows() {
    let src = "assets/compat.toml";
    println!("cargo::rerun-if-changed={src}");
    let text = std::fs::read_to_string(src).expect("assets/compat.toml is readable");
    let value: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{src} is not valid TOML: {e}"));
    // Table name -> the row struct in src/analyze/compat.rs.
    const ROWS: [(&str, &str); 7] = [
        ("torch", "TorchRow"),
        ("cuda_driver", "CudaDriverRow"),
        ("cuda_minor_compat", "MinorCompatRow"),
        ("arch", "ArchRow"),
        ("image", "ImageRow"),
        ("cuda_tag", "CudaTagRow"),
        ("os_python", "OsPythonRow"),
    ];
    let mut code = String::from("CompatFile {\n");
    for (table, rows) in &value {
        let Some((_, row_type)) = ROWS.iter().find(|(t, _)| t == table) else {
            panic!("{src}: unknown table [[{table}]]");
        };
        let rows = rows
            .as_array()
            .unwrap_or_else(|| panic!("{src}: `{table}` must be an array of tables ([[{table}]])"));
        code.push_str(&format!("    {table}: vec![\n"));
        for row in rows {
            let row = row
                .as_table()
                .unwrap_or_else(|| panic!("{src}: a `{table}` row is not a table"));
            code.push_str(&format!("        {row_type} {{\n"));
            for (key, v) in row {
                code.push_str(&format!(
                    "            {key}: lit({}),\n",
                    rust_literal(src, key, v)
                ));
            }
            code.push_str("            ..Default::default()\n        },\n");
        }
        code.push_str("    ],\n");
    }
    code.push_str("    ..Default::default()\n}\n");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("compat_rows.rs"), code).expect("OUT_DIR is writable");
}

/// A TOML value as a Rust literal for `compat::lit` (strings, integers, booleans and arrays of strings).
fn rust_literal(src: &str, key: &str, v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Integer(i) => format!("{i}i64"),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|i| match i.as_str() {
                    Some(s) => format!("{s:?}"),
                    None => panic!("{src}: `{key}` must be an array of strings"),
                })
                .collect();
            format!("&[{}] as &[&str]", items.join(", "))
        }
        other => panic!("{src}: `{key}` has an unsupported value {other}"),
    }
}

/// The effective uid from /proc (build scripts have no libc here).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

fn which(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

/// moto's server: `DOCKUI_MOTO_SERVER`, else the venv `.ci/run` makes (`~/.cache/dockui-moto`), else PATH.
/// tests/common/mod.rs finds it the same way.
fn moto_server() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("DOCKUI_MOTO_SERVER") {
        return Some(p.into());
    }
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from)?;
    let venv = home.join(".cache/dockui-moto/bin/moto_server");
    if venv.is_file() {
        return Some(venv);
    }
    which("moto_server").then(|| "moto_server".into())
}

fn ping(host: &str, socket: &str) -> bool {
    let request = b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";
    let timeout = Some(Duration::from_secs(3));
    let mut answer = Vec::new();
    let ok = if let Some(addr) = host.strip_prefix("tcp://") {
        std::net::TcpStream::connect(addr).and_then(|mut s| {
            s.set_read_timeout(timeout)?;
            s.write_all(request)?;
            s.read_to_end(&mut answer)
        })
    } else {
        std::os::unix::net::UnixStream::connect(socket).and_then(|mut s| {
            s.set_read_timeout(timeout)?;
            s.write_all(request)?;
            s.read_to_end(&mut answer)
        })
    };
    ok.is_ok() && answer.starts_with(b"HTTP/1.") && answer.windows(3).any(|w| w == b" 20")
}
