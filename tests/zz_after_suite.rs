//! Runs last (cargo runs test binaries in name order): no container this `cargo test` run made is left,
//! asserted through the engine's container list. Scoped to the containers labelled with this run's group
//! (`dockui.group`, see common::run_group): other runs may share the engine and are none of our business.

mod common;

use bollard::query_parameters::ListContainersOptionsBuilder;
use std::collections::HashMap;

#[tokio::test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn no_container_made_by_the_tests_is_left() {
    common::engine_or_skip("no_container_made_by_the_tests_is_left").await;
    let docker = bollard::Docker::connect_with_local_defaults().unwrap();
    let group = format!(
        "{}={}",
        dockui::docker::bollard_engine::GROUP_LABEL,
        common::run_group()
    );
    // Removal after a timeout or a cancel runs in the background: give it a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let filters = HashMap::from([("label", vec![group.as_str()])]);
        let opts = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let left: Vec<String> = docker
            .list_containers(Some(opts))
            .await
            .unwrap()
            .into_iter()
            .map(|c| format!("{} {:?} {:?}", c.id.unwrap_or_default(), c.image, c.status))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "containers left by this test run ({group}):\n{}",
            left.join("\n")
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}
