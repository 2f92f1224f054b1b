//! Credential lookup against fake Docker / podman config files and a fake `docker-credential-test` helper.

use dockui::registry::credentials::{
    CredentialError, CredentialLookup, CredentialSource, SecretKind,
};
use dockui::registry::secret::Secret;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registry")
}

fn lookup(docker: &str) -> CredentialLookup {
    let bin = fixtures().join("bin");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    CredentialLookup {
        docker_config: Some(fixtures().join(docker).join("config.json")),
        podman_auth: vec![fixtures().join("podman/auth.json")],
        env_user: None,
        env_password: None,
        helper_path: Some(path.into()),
        env_scope: None,
    }
}

fn assert_no_secret(what: &str, text: &str) {
    assert!(!text.contains("s3cret"), "{what} leaks a secret: {text}");
}

#[test]
fn auths_base64_username_password_and_identity_token() {
    let l = lookup("docker-auths");
    let c = l.resolve_blocking("127.0.0.1:5999").unwrap().unwrap();
    assert_eq!(c.username, "alice");
    assert_eq!(c.secret.expose(), "s3cret-alice");
    assert_eq!(c.kind, SecretKind::Password);
    assert!(matches!(c.source, CredentialSource::DockerConfig { .. }));
    assert_no_secret("Debug", &format!("{c:?}"));
    assert_no_secret("JSON", &serde_json::to_string(&c).unwrap());

    let c = l.resolve_blocking("ghcr.io").unwrap().unwrap();
    assert_eq!(
        (c.username.as_str(), c.secret.expose()),
        ("bob", "s3cret-bob")
    );

    let c = l.resolve_blocking("docker.io").unwrap().unwrap();
    assert_eq!(c.kind, SecretKind::IdentityToken);
    assert_eq!(c.secret.expose(), "s3cret-token");

    assert!(l.resolve_blocking("nobody.example").unwrap().is_none());
}

#[test]
fn cred_helpers_win_for_their_host_and_auths_serve_the_rest() {
    let l = lookup("docker-helpers");
    let c = l.resolve_blocking("127.0.0.1:5999").unwrap().unwrap();
    assert_eq!(
        (c.username.as_str(), c.secret.expose()),
        ("helper-user", "s3cret-helper")
    );
    assert_eq!(
        c.source,
        CredentialSource::CredHelper {
            helper: "test".into()
        }
    );
    let c = l.resolve_blocking("other.example:5000").unwrap().unwrap();
    assert_eq!(c.username, "carol");
    let e = l.resolve_blocking("missing.example").unwrap_err();
    assert!(matches!(e, CredentialError::Helper { .. }), "{e}");
    assert!(
        e.to_string().contains("docker-credential-does-not-exist"),
        "{e}"
    );
    assert!(e.to_string().contains("installed"), "{e}");
}

#[test]
fn creds_store_answers_and_falls_back_to_inline_auth() {
    let l = lookup("docker-store");
    let c = l.resolve_blocking("127.0.0.1:5999").unwrap().unwrap();
    assert_eq!(
        c.source,
        CredentialSource::CredsStore {
            helper: "test".into()
        }
    );
    assert_eq!(c.secret.expose(), "s3cret-helper");
    let c = l.resolve_blocking("docker.io").unwrap().unwrap();
    assert_eq!(
        c.kind,
        SecretKind::IdentityToken,
        "helper username <token> means an identity token"
    );
    let c = l.resolve_blocking("inline.example").unwrap().unwrap();
    assert_eq!(c.username, "dave");
    assert!(l.resolve_blocking("nobody.example").unwrap().is_none());
}

#[tokio::test]
async fn helpers_run_on_the_blocking_pool_from_async_code() {
    let c = lookup("docker-store")
        .resolve("127.0.0.1:5999")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.username, "helper-user");
}

#[test]
fn podman_auth_only_when_there_is_no_docker_config() {
    let mut l = lookup("no-such-dir");
    let c = l.resolve_blocking("quay.io").unwrap().unwrap();
    assert_eq!(c.username, "erin");
    assert!(matches!(c.source, CredentialSource::PodmanAuth { .. }));
    l.docker_config = Some(fixtures().join("docker-auths/config.json"));
    assert!(
        l.resolve_blocking("quay.io").unwrap().is_none(),
        "a Docker config exists: podman's file is not read"
    );
}

#[test]
fn env_vars_win_and_stay_redacted() {
    let mut l = lookup("docker-auths");
    l.env_user = Some("ci".into());
    l.env_password = Some(Secret::new("s3cret-env"));
    let c = l.resolve_blocking("127.0.0.1:5999").unwrap().unwrap();
    assert_eq!(
        (c.username.as_str(), c.secret.expose()),
        ("ci", "s3cret-env")
    );
    assert_eq!(c.source, CredentialSource::Env);
    assert_no_secret("Debug", &format!("{c:?} {l:?}"));

    // Scoped to the push target: other registries get their own credentials, never the CI password.
    let l = l.scope_env_to("http://127.0.0.1:5999");
    assert_eq!(
        l.resolve_blocking("127.0.0.1:5999")
            .unwrap()
            .unwrap()
            .source,
        CredentialSource::Env
    );
    let c = l.resolve_blocking("ghcr.io").unwrap().unwrap();
    assert_eq!(
        c.username, "bob",
        "ghcr.io comes from config.json, not the env"
    );
    assert!(l.resolve_blocking("nobody.example").unwrap().is_none());
}

#[test]
fn broken_files_say_which_file_and_what_to_do_without_the_content() {
    let e = lookup("docker-bad")
        .resolve_blocking("127.0.0.1:5999")
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("docker-bad/config.json"), "{msg}");
    assert!(msg.contains("docker login"), "{msg}");
    assert!(!msg.contains("not-base64"), "{msg}");
}

/// A helper that prints its answer (the secret) and then fails: the error names the helper and its exit
/// code, never what it printed on stdout.
#[test]
fn a_helper_that_fails_after_answering_never_has_its_answer_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-leaky");
    std::fs::write(
        &helper,
        "#!/bin/sh\nread -r server\necho '{\"ServerURL\":\"'$server'\",\"Username\":\"u\",\"Secret\":\"s3cret-leaky\"}'\necho 'keychain locked' >&2\nexit 3\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.path().join("config.json"), r#"{"credsStore":"leaky"}"#).unwrap();
    let l = CredentialLookup {
        docker_config: Some(dir.path().join("config.json")),
        podman_auth: vec![],
        env_user: None,
        env_password: None,
        helper_path: Some(
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            )
            .into(),
        ),
        env_scope: None,
    };
    let e = l
        .resolve_blocking("127.0.0.1:5999")
        .unwrap_err()
        .to_string();
    assert_no_secret("helper error", &e);
    assert!(e.contains("leaky") && e.contains("exit 3"), "{e}");
    // What it said on stderr is still shown: that is where helpers explain.
    assert!(e.contains("keychain locked"), "{e}");
}

/// An auth file far larger than any real one (a log written to the wrong path, a sparse file) is refused by
/// its size, not read into memory; the error names the file.
#[test]
fn a_huge_auth_file_is_refused_without_being_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(64 * 1024 * 1024 * 1024).unwrap(); // sparse: 64 GiB that take no disk
    let l = CredentialLookup {
        docker_config: Some(path.clone()),
        podman_auth: vec![],
        env_user: None,
        env_password: None,
        helper_path: None,
        env_scope: None,
    };
    let msg = l
        .resolve_blocking("127.0.0.1:5000")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains("larger than"),
        "{msg}"
    );
}
