//! Runs last (cargo runs test binaries in name order): no container made by the tests is left, asserted
//! through the engine's container list. Test images live under dockui-test/ and dockui-standin/; containers
//! dockui runs are labelled dev.dockui.managed.

mod common;

use bollard::query_parameters::ListContainersOptionsBuilder;
use std::collections::HashMap;

#[tokio::test]
async fn no_container_made_by_the_tests_is_left() {
    if common::engine_or_skip("no_container_made_by_the_tests_is_left")
        .await
        .is_none()
    {
        return;
    }
    let docker = bollard::Docker::connect_with_local_defaults().unwrap();
    // Removal after a timeout or a cancel runs in the background: give it a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let opts = ListContainersOptionsBuilder::new().all(true).build();
        let left: Vec<String> = docker
            .list_containers(Some(opts))
            .await
            .unwrap()
            .into_iter()
            .filter(|c| {
                let image = c.image.clone().unwrap_or_default();
                let managed = c
                    .labels
                    .as_ref()
                    .unwrap_or(&HashMap::new())
                    .contains_key("dev.dockui.managed");
                image.starts_with("dockui-test/")
                    || (managed && image.starts_with("dockui-standin/"))
            })
            .map(|c| format!("{} {:?} {:?}", c.id.unwrap_or_default(), c.image, c.status))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "containers left by the tests:\n{}",
            left.join("\n")
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}
