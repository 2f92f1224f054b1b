//! A smoke check on the real engine: its exit code and output as the container gave them, and the container
//! gone when the check returns (no removal left to wait for). A file of its own: the leftover check looks at
//! every container of this process's run, so no other test may run containers beside it.

mod common;

use dockui::docker::standin::DEMO_BASE;

fn containers_of_this_run() -> String {
    common::smoke::containers_of_this_run(std::process::Command::new("docker"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_smoke_check_gives_the_exit_code_and_output_and_leaves_no_container() {
    let Some(docker) = common::engine_or_skip(
        "a_smoke_check_gives_the_exit_code_and_output_and_leaves_no_container",
    )
    .await
    else {
        return;
    };
    dockui::docker::standin::ensure(&docker, DEMO_BASE, tokio::sync::mpsc::unbounded_channel().0)
        .await
        .unwrap();
    common::smoke::failing_check_gives_its_code_and_output(&docker, DEMO_BASE).await;
    assert_eq!(
        containers_of_this_run(),
        "",
        "the failed check's container is left"
    );
    common::smoke::passing_check_gives_its_output(&docker, DEMO_BASE).await;
    assert_eq!(
        containers_of_this_run(),
        "",
        "the passed check's container is left"
    );
}
