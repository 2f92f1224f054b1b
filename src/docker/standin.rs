//! The offline stand-in base: a busybox image with shims for apt-get, pip and python, tagged under
//! `dockui-standin/...` so GPU-flavoured Dockerfiles build without a registry. Never a real public name.

use super::{BuildEvent, BuildSpec, DockerError, DockerPort};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc::UnboundedSender;

pub const PREFIX: &str = "dockui-standin/";
pub const DEMO_BASE: &str = "dockui-standin/pytorch:2.5.1-cuda12.4-cudnn9-runtime";

const DOCKERFILE: &str = include_str!("../../assets/standin/Dockerfile");
const SHIMS: &[(&str, &str)] = &[
    (
        "apt-get",
        include_str!("../../assets/standin/shims/apt-get"),
    ),
    ("pip", include_str!("../../assets/standin/shims/pip")),
    ("pip3", include_str!("../../assets/standin/shims/pip3")),
    ("python", include_str!("../../assets/standin/shims/python")),
    (
        "python3",
        include_str!("../../assets/standin/shims/python3"),
    ),
];

/// Label with a hash of the stand-in's recipe: an image made from an older recipe is rebuilt.
const HASH_LABEL: &str = "dev.dockui.standin.recipe";

fn content_hash() -> String {
    let parts = std::iter::once(DOCKERFILE).chain(SHIMS.iter().flat_map(|(n, t)| [*n, *t]));
    format!("{:016x}", crate::hash::fnv1a(parts))
}

pub fn is_standin(reference: &str) -> bool {
    reference.starts_with(PREFIX)
}

/// The public image a stand-in imitates (`dockui-standin/pytorch:TAG` -> `pytorch/pytorch:TAG`): the analysis
/// judges a build on the stand-in as a build on that image, since that is what the project will run on.
pub fn stands_in_for(reference: &str) -> Option<String> {
    let (name, tag) = reference.strip_prefix(PREFIX)?.split_once(':')?;
    match name {
        "pytorch" => Some(format!("pytorch/pytorch:{tag}")),
        _ => None,
    }
}

/// A statically linked busybox on the host (Debian's busybox-static).
pub fn find_busybox() -> Result<PathBuf, DockerError> {
    let candidates = [
        std::env::var("DOCKUI_BUSYBOX").unwrap_or_default(),
        "/bin/busybox".into(),
        "/usr/bin/busybox".into(),
    ];
    candidates
        .iter()
        .filter(|c| !c.is_empty())
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            DockerError::Other(
                "the offline stand-in base needs a static busybox: install busybox-static (apt-get install busybox-static) or set DOCKUI_BUSYBOX".into(),
            )
        })
}

fn write_context(dir: &Path, busybox: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(dir.join("Dockerfile"), DOCKERFILE)?;
    std::fs::copy(busybox, dir.join("busybox"))?;
    std::fs::set_permissions(dir.join("busybox"), std::fs::Permissions::from_mode(0o755))?;
    std::fs::create_dir_all(dir.join("shims"))?;
    for (name, text) in SHIMS {
        let p = dir.join("shims").join(name);
        std::fs::write(&p, text)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// Build the stand-in under `tag` unless the engine already has it. Returns true when it was built now.
pub async fn ensure(
    docker: &dyn DockerPort,
    tag: &str,
    events: UnboundedSender<BuildEvent>,
) -> Result<bool, DockerError> {
    if !is_standin(tag) {
        return Err(DockerError::Other(format!(
            "refusing to tag a stand-in as {tag}: stand-ins live under {PREFIX}"
        )));
    }
    let hash = content_hash();
    if let Some(info) = docker.inspect_image(tag).await?
        && info.labels.get(HASH_LABEL) == Some(&hash)
    {
        return Ok(false);
    }
    let busybox = find_busybox()?;
    let dir = tempfile::tempdir().map_err(|e| DockerError::Other(e.to_string()))?;
    write_context(dir.path(), &busybox)
        .map_err(|e| DockerError::Other(format!("cannot prepare stand-in context: {e}")))?;
    let _ = events.send(BuildEvent::Line(format!(
        "dockui: building offline stand-in base {tag} from {}",
        busybox.display()
    )));
    let spec = BuildSpec {
        context_dir: dir.path().to_path_buf(),
        dockerfile: PathBuf::from("Dockerfile"),
        tag: tag.to_string(),
        labels: [(HASH_LABEL.to_string(), hash)].into(),
        ..Default::default()
    };
    docker.build(spec, events).await?;
    Ok(true)
}
