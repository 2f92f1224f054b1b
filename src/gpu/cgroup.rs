//! Which container a host PID belongs to, from `/proc/PID/cgroup`.

/// Short (12 hex) container id of `pid`, if it runs in a Docker (or Podman) container. Any read error
/// (process gone, no permission, not Linux) just means "not known".
pub fn container_of_pid(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    container_id_from_cgroup(&text)
}

/// Parse the text of `/proc/PID/cgroup`. Recognised forms (v1 lines `N:controllers:/path`, v2 line
/// `0::/path`):
/// - cgroupfs driver: `/docker/<64 hex>` (also nested, e.g. `/docker/<id>/...`)
/// - systemd driver: `/system.slice/docker-<64 hex>.scope`
/// - Podman: `libpod-<64 hex>.scope`, `/libpod_parent/libpod-<id>`
pub fn container_id_from_cgroup(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        // The path is everything after the second ':' (it may itself contain ':').
        let path = line.splitn(3, ':').nth(2)?;
        path.split('/').find_map(id_in_segment)
    })
}

fn id_in_segment(seg: &str) -> Option<String> {
    let candidate = if let Some(rest) = seg.strip_prefix("docker-") {
        rest.strip_suffix(".scope")?
    } else if let Some(rest) = seg.strip_prefix("libpod-") {
        rest.strip_suffix(".scope").unwrap_or(rest)
    } else {
        seg
    };
    // A bare 64-hex segment only counts under /docker/ or as a scope name; checking the length and
    // alphabet is what distinguishes an id from ordinary cgroup names like "user.slice".
    let is_id = candidate.len() == 64 && candidate.bytes().all(|b| b.is_ascii_hexdigit());
    is_id.then(|| candidate[..12].to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f1e3c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";

    #[test]
    fn cgroup_v2_systemd_scope() {
        let text = format!("0::/system.slice/docker-{ID}.scope\n");
        assert_eq!(
            container_id_from_cgroup(&text).as_deref(),
            Some("4f1e3c2b9a8d")
        );
    }

    #[test]
    fn cgroup_v1_cgroupfs() {
        let text = format!(
            "12:pids:/docker/{ID}\n11:memory:/docker/{ID}\n1:name=systemd:/docker/{ID}\n0::/system.slice/containerd.service\n"
        );
        assert_eq!(
            container_id_from_cgroup(&text).as_deref(),
            Some("4f1e3c2b9a8d")
        );
    }

    #[test]
    fn cgroup_v1_systemd_driver() {
        let text = format!("4:devices:/system.slice/docker-{ID}.scope\n");
        assert_eq!(
            container_id_from_cgroup(&text).as_deref(),
            Some("4f1e3c2b9a8d")
        );
    }

    #[test]
    fn podman_scope() {
        let text = format!("0::/machine.slice/libpod-{ID}.scope/container\n");
        assert_eq!(
            container_id_from_cgroup(&text).as_deref(),
            Some("4f1e3c2b9a8d")
        );
    }

    #[test]
    fn host_processes_have_no_container() {
        for text in [
            "0::/user.slice/user-1000.slice/session-3.scope\n",
            "0::/\n",
            "12:memory:/user.slice\n0::/init.scope\n",
            "",
            "garbage without colons\n",
            "0::/system.slice/docker-notanid.scope\n",
            "0::/system.slice/docker.service\n",
        ] {
            assert_eq!(container_id_from_cgroup(text), None, "{text:?}");
        }
    }

    #[test]
    fn own_process_is_readable() {
        // Whatever this test runs in, reading our own cgroup must not fail or panic.
        let _ = container_of_pid(std::process::id());
        assert_eq!(container_of_pid(u32::MAX), None);
    }
}
