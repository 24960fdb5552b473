//! The commented example configuration stays true.

use academichub::config::Settings;

#[test]
fn the_example_config_lists_the_defaults_and_loads() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/academichub.example.toml"
    );
    let loaded = Settings::load(Some(example.as_ref())).unwrap();
    assert_eq!(
        format!("{loaded:?}"),
        format!("{:?}", Settings::default()),
        "deploy/academichub.example.toml has drifted from the defaults"
    );
}
