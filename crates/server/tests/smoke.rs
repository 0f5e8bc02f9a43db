//! The shortest path through a real server: start it, write a secret with the official
//! Rust SDK, read it back, stop it cleanly.

mod common;

use common::Server;

#[tokio::test]
async fn create_and_read_a_secret_with_the_rust_sdk() {
    let mut server = Server::start();
    let client = server.client().await;
    let created = client
        .create_secret()
        .name("smoke/test")
        .secret_string("hunter2")
        .send()
        .await
        .unwrap();
    let read = client
        .get_secret_value()
        .secret_id("smoke/test")
        .send()
        .await
        .unwrap();
    assert_eq!(read.secret_string(), Some("hunter2"));
    assert_eq!(read.arn(), created.arn());
    assert_eq!(read.version_stages(), ["AWSCURRENT"]);
    assert!(server.terminate().success());
}
