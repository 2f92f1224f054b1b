//! The bundled demo project, embedded so `dockui demo` works from the binary alone.

use std::path::Path;

pub const FILES: &[(&str, &str)] = &[
    ("Dockerfile", include_str!("../assets/demo/Dockerfile")),
    (
        "requirements.txt",
        include_str!("../assets/demo/requirements.txt"),
    ),
    (
        "scripts/container_smoke.sh",
        include_str!("../assets/demo/scripts/container_smoke.sh"),
    ),
    (".dockui.toml", include_str!("../assets/demo/.dockui.toml")),
    (
        ".dockerignore",
        include_str!("../assets/demo/.dockerignore"),
    ),
];

/// Write the demo into `dir`, leaving files the user already has there untouched (never lose their edits).
pub fn materialize(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for (rel, text) in FILES {
        let path = dir.join(rel);
        if path.exists() {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)?;
        if rel.ends_with(".sh") {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    Ok(())
}
