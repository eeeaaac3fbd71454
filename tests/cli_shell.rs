//! `idsync completions` and `idsync man`: generated from the clap definition, non-empty, and
//! naming the commands users type.

use std::process::Command;

use assert_cmd::assert::OutputAssertExt;

fn idsync() -> Command {
    Command::new(env!("CARGO_BIN_EXE_idsync"))
}

#[test]
fn completions_for_every_shell_name_the_commands() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = idsync().args(["completions", shell]).assert().success();
        let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        for word in ["plan", "apply", "drift", "snapshot", "detailed-exitcode"] {
            assert!(text.contains(word), "{shell} completions lack {word}");
        }
    }
    idsync().args(["completions", "tcsh"]).assert().code(2);
}

#[test]
fn man_page_is_roff_with_every_subcommand() {
    let out = idsync().arg("man").assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        text.starts_with(".ie") || text.starts_with(".TH"),
        "{}",
        &text[..80.min(text.len())]
    );
    assert!(text.contains(".TH idsync 1"), "no main page");
    for sub in ["plan", "apply", "drift", "import", "snapshot", "validate"] {
        assert!(
            text.contains(&format!(".TH idsync-{sub}")),
            "no page for {sub}"
        );
    }
}
