//! The rootless-subuid signature against the real wording of the tools that fail when a user namespace cannot
//! map an owner (issue 13, point 3): run here in `unshare -r` (a namespace that maps root only, as rootless
//! Podman without enough subordinate ids maps too few), so the texts are the tools' own, not copies: busybox
//! and coreutils `cp -a` and `chown`, and dpkg unpacking a package whose files belong to another user (what
//! `apt-get install` prints under rootless Podman). Needs util-linux's `unshare` with user namespaces, and dpkg.

use std::path::Path;
use std::process::Command;

fn classify(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let sig = dockui::classify::classify(&[l])
                .map(|d| d.signature)
                .unwrap_or_else(|| "none".into());
            (l.to_string(), sig)
        })
        .collect()
}

fn in_userns(dir: &Path, script: &str) -> String {
    let out = Command::new("unshare")
        .args(["-r", "sh", "-c", script])
        .current_dir(dir)
        .output()
        .expect("unshare (util-linux) runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !stderr.contains("unshare failed"),
        "user namespaces are not available here: {stderr}"
    );
    stderr
}

#[test]
fn the_tools_own_words_for_an_unmapped_owner_are_classified_with_the_subuid_fix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A file owned by a user the namespace does not map (it shows up as nobody inside).
    std::fs::write(d.join("src"), "x").unwrap();
    std::os::unix::fs::chown(d.join("src"), Some(1000), Some(1000)).unwrap();
    let mut perms = std::fs::metadata(d).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o777);
    std::fs::set_permissions(d, perms).unwrap();
    let stderr = in_userns(
        d,
        "/bin/busybox cp -a src dst1; cp -a src dst2; /bin/busybox chown 1500 dst2; chown 1500 dst2; true",
    );
    let got = classify(&stderr);
    assert_eq!(got.len(), 4, "{stderr}");
    for (line, sig) in &got {
        assert!(line.contains("Invalid argument"), "{line}");
        assert_eq!(sig, "podman-rootless-subuid", "{line}");
    }

    // dpkg unpacking a file owned by uid 1500 (the project's machines are Debian: dpkg is there).
    let pkg = d.join("pkg");
    std::fs::create_dir_all(pkg.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(pkg.join("opt/x")).unwrap();
    std::fs::write(
        pkg.join("DEBIAN/control"),
        "Package: dockui-userns\nVersion: 1\nArchitecture: all\nMaintainer: t <t@example.com>\nDescription: t\n",
    )
    .unwrap();
    std::fs::write(pkg.join("opt/x/f"), "x").unwrap();
    for p in [pkg.join("opt"), pkg.join("opt/x"), pkg.join("opt/x/f")] {
        std::os::unix::fs::chown(&p, Some(1500), Some(1500)).unwrap();
    }
    let built = Command::new("dpkg-deb")
        .args(["-b"])
        .arg(&pkg)
        .arg(d.join("t.deb"))
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let root = d.join("root");
    std::fs::create_dir_all(root.join("var/lib/dpkg/updates")).unwrap();
    std::fs::create_dir_all(root.join("var/lib/dpkg/info")).unwrap();
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    let _ = Command::new("chmod").args(["-R", "a+rwX"]).arg(d).status();
    let stderr = in_userns(
        d,
        &format!(
            "dpkg --root={} --force-script-chrootless --force-not-root -i t.deb",
            root.display()
        ),
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("error setting ownership"))
        .unwrap_or_else(|| panic!("dpkg's failure: {stderr}"));
    assert_eq!(
        dockui::classify::classify(&stderr.lines().collect::<Vec<_>>()).map(|d| d.signature),
        Some("podman-rootless-subuid".to_string()),
        "{line}"
    );
}
