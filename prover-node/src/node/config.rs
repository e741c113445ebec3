//! Node configuration: defaults, then a TOML file (`--config`), then environment (`OTR_*`), then
//! flags. `otr serve --help` lists every setting.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// `otr serve` settings. Every flag also reads an `OTR_*` environment variable.
#[derive(Debug, Clone, Args, Default)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (keys as the long flag names, with `_`).
    #[arg(long, env = "OTR_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on. [default: 127.0.0.1:8080]
    #[arg(long, env = "OTR_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Where the node keeps its key, store and dev GPU seed. [default: ~/.local/share/otr]
    #[arg(long, env = "OTR_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Attestation provider: `nvidia` (an H100 in CC mode, through NVML) or `dev` (software,
    /// NOT PRODUCTION). [default: dev]
    #[arg(long, env = "OTR_ATTESTATION", value_name = "PROVIDER")]
    pub attestation: Option<String>,
    /// Micro-batch window in milliseconds; 0 closes a micro-batch per request. [default: 200]
    #[arg(long, env = "OTR_BATCH_WINDOW_MS", value_name = "MS")]
    pub batch_window_ms: Option<u64>,
    /// Model: a GGUF file, or `gemma3-270m` (downloaded by scripts/fetch-model.sh), or
    /// `fixture-gemma3` (the tiny test model in fixtures/models). [default: gemma3-270m]
    #[arg(long, env = "OTR_MODEL", value_name = "MODEL")]
    pub model: Option<String>,
    /// EVM chain id written into micro-batch headers. [default: 31337]
    #[arg(long, env = "OTR_CHAIN_ID", value_name = "ID")]
    pub chain_id: Option<u64>,
    /// NVIDIA reference manifests to staple to bundles (nvidia provider). Repeatable.
    #[arg(long = "rim", value_name = "FILE")]
    pub rims: Vec<PathBuf>,
    /// OCSP answers to staple to bundles (nvidia provider). Repeatable.
    #[arg(long = "ocsp", value_name = "FILE")]
    pub ocsp: Vec<PathBuf>,
    /// Folder of the web demo to serve at `/`. [default: web-demo/ next to the binary's workspace, if present]
    #[arg(long, env = "OTR_WEB_DEMO", value_name = "DIR")]
    pub web_demo: Option<PathBuf>,
    /// Settlement chain: `embedded` (the settlement contracts run in-process on revm, persisted
    /// at `<data dir>/chain.json`) or `none` (no rollup posting; bundles stay provisional).
    /// [default: embedded]
    #[arg(long, env = "OTR_CHAIN", value_name = "CHAIN")]
    pub chain: Option<String>,
    /// Settle on the EVM node at this JSON-RPC URL instead of the embedded chain: the node
    /// signs with its key (its EVM account), uses `--chain-deployment` or, on a dev chain
    /// (anvil), deploys the contracts itself, and staples light-client proofs to bundles.
    #[arg(long, env = "OTR_CHAIN_RPC", value_name = "URL")]
    pub chain_rpc: Option<String>,
    /// With `--chain-rpc`: the deployment to use (the JSON of `chain-deployment.json`).
    #[arg(long, env = "OTR_CHAIN_DEPLOYMENT", value_name = "FILE")]
    pub chain_deployment: Option<PathBuf>,
    /// Challenge window of a newly deployed embedded chain, in seconds. [default: 120]
    #[arg(long, env = "OTR_CHALLENGE_WINDOW_SECS", value_name = "SECS")]
    pub challenge_window_secs: Option<u64>,
    /// Spot-check rate of a newly deployed chain (the embedded one, or a dev chain the node
    /// deploys to over `--chain-rpc`), in parts per million of receipts: the SpotChecks
    /// contract selects each posted receipt with this probability and the node must prove its
    /// sampled step on-chain. [default: 10000 (1%)]
    #[arg(long, env = "OTR_CHAIN_SPOT_CHECK_PPM", value_name = "PPM")]
    pub chain_spot_check_ppm: Option<u64>,
    /// With `--chain-rpc`: the most the node offers per gas for its transactions (EIP-1559
    /// `maxFeePerGas`), in gwei. At a base fee at or above it nothing is sent (the post waits
    /// and retries); a transaction left pending for 30 s is replaced with 25% higher fees within
    /// the cap. [default: no cap]
    #[arg(long, env = "OTR_CHAIN_MAX_FEE_GWEI", value_name = "GWEI")]
    pub chain_max_fee_gwei: Option<u64>,
    /// How often the node posts its closed micro-batch headers as a rollup batch. [default: 2000]
    #[arg(long, env = "OTR_POST_INTERVAL_MS", value_name = "MS")]
    pub post_interval_ms: Option<u64>,
    /// Publish each answer's request (the exact body and nonce its receipt's `request_hash`
    /// commits to) at `GET /v1/receipts/{id}/request`, so that anyone can re-execute it and
    /// dispute a wrong receipt. Off by default: requests are private to the client and node
    /// (docs/NODE.md, "Requests for re-execution").
    #[arg(long, env = "OTR_PUBLISH_REQUESTS")]
    pub publish_requests: bool,
    /// DEV ONLY, for dispute tests: answer every Nth request wrongly (the model runs on the
    /// prompt with its last token altered, so the answer and the trace the receipt commits to
    /// are not those of the request). Refused with `--attestation nvidia`. [default: off]
    #[arg(long, env = "OTR_DEV_CHEAT_EVERY", value_name = "N")]
    pub dev_cheat_every: Option<u64>,
    /// DEV ONLY: how `--dev-cheat-every` answers wrongly. `embed`: the last prompt token's
    /// embedding is another token's (caught at that `EMBED` step); `token`: the first answer
    /// token is the runner-up logit's instead of the greedy pick (caught at that `SAMPLE` step,
    /// refuted with the larger logit); `logits`: the first answer token's logits favour the
    /// runner-up (caught at that `LOGITS` step, refuted with one logit recomputed from its
    /// embedding row); `matrix`: row 1 of the first layer's `DOWN` output at the last prompt
    /// position is off by one (caught at that step, refuted with that row of the matrix);
    /// `attention`: the first layer's attention at the last prompt position reads its values
    /// negated (caught at that `ATTN` step; past the verifier's proof limit its claim is
    /// refuted with one part's keys and values); `prompt`: the `PROMPT` leaf's text has its
    /// last byte's case flipped while its tokens are the request's (caught at leaf 0, refuted
    /// with one vocabulary piece); `split`: the prompt's first token that two vocabulary pieces
    /// make is fed as those two, the same text on other tokens (caught at leaf 0, refuted with
    /// the two tokens and the piece they make); `resplit`: the prompt's first one or two tokens
    /// whose text re-splits into pieces no two adjacent of which make a piece are fed as those
    /// (caught at leaf 0, refuted by replaying the tokenizer's merges on one pair on chain; a
    /// prompt without such a token is answered honestly); `bytes`: the prompt's first normal
    /// token is fed as its byte tokens (refuted as a byte token of a character that is a
    /// token); `spell`: the prompt's first special token (`<start_of_turn>` of a chat) is fed as
    /// pieces of its text (refuted with the special's piece and those pieces). A
    /// comma-separated list takes turns
    /// (`logits,matrix`: the first cheat biases the logits, the second the matrix row, and so
    /// on). [default: embed]
    #[arg(long, env = "OTR_DEV_CHEAT_KIND", value_name = "KIND[,KIND...]")]
    pub dev_cheat_kind: Option<String>,
    /// ZK spot-checks: a finalized setup directory (`otr zk ceremony finalize --out-dir DIR`),
    /// one per matrix shape to prove; repeat the flag (environment: comma-separated). Also the
    /// unit proving keys of matrix-vector steps in disputes and on-chain spot checks. Without it
    /// spot-checks are off. [default: off]
    #[arg(long, env = "OTR_ZK_PARAMS", value_name = "DIR", value_delimiter = ',')]
    pub zk_params: Vec<PathBuf>,
    /// ZK spot-check rate rho: the probability that a posted receipt is proved (selected by
    /// the batch's seed, docs/PROTOCOL.md §7.8); at least the SpotChecks contract's rate.
    /// [default: 0.01]
    #[arg(long, env = "OTR_SPOT_CHECK_RATE", value_name = "RHO")]
    pub spot_check_rate: Option<f64>,
    /// `on`: every answer gets a receipt, attested micro-batches, a bundle. `off`: plain
    /// OpenAI serving of the same engine with NO receipt, NO attestation, no store, no
    /// micro-batches and no chain: answers are UNVERIFIABLE (for measuring what receipts cost;
    /// refused with `--attestation nvidia`, `--chain embedded|rpc`, `--chain-rpc`,
    /// `--zk-params`, `--publish-requests`, `--dev-cheat-every`, `--rim`, `--ocsp`). [default: on]
    #[arg(long, env = "OTR_RECEIPTS", value_name = "on|off")]
    pub receipts: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    attestation: Option<String>,
    batch_window_ms: Option<u64>,
    model: Option<String>,
    chain_id: Option<u64>,
    #[serde(default)]
    rims: Vec<PathBuf>,
    #[serde(default)]
    ocsp: Vec<PathBuf>,
    web_demo: Option<PathBuf>,
    chain: Option<String>,
    chain_rpc: Option<String>,
    chain_deployment: Option<PathBuf>,
    challenge_window_secs: Option<u64>,
    chain_spot_check_ppm: Option<u64>,
    chain_max_fee_gwei: Option<u64>,
    post_interval_ms: Option<u64>,
    publish_requests: Option<bool>,
    dev_cheat_every: Option<u64>,
    dev_cheat_kind: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    zk_params: Vec<PathBuf>,
    spot_check_rate: Option<f64>,
    receipts: Option<String>,
}

/// The resolved configuration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub attestation: String,
    pub batch_window_ms: u64,
    pub model: String,
    pub chain_id: u64,
    pub rims: Vec<PathBuf>,
    pub ocsp: Vec<PathBuf>,
    pub web_demo: Option<PathBuf>,
    /// `embedded`, `rpc` (with `chain_rpc`) or `none`.
    pub chain: String,
    pub chain_rpc: Option<String>,
    pub chain_deployment: Option<PathBuf>,
    pub challenge_window_secs: u64,
    /// SpotChecks rate (ppm) of a newly deployed chain.
    pub chain_spot_check_ppm: u64,
    /// `--chain-rpc` fee cap, gwei per gas.
    pub chain_max_fee_gwei: Option<u64>,
    pub post_interval_ms: u64,
    /// Serve `GET /v1/receipts/{id}/request`.
    pub publish_requests: bool,
    /// Dev only: every Nth answer is wrong on purpose (0: never).
    pub dev_cheat_every: u64,
    /// Dev only: how the cheats answer, in turn (`RunKind::Cheat`, `CheatToken`, ...).
    pub dev_cheat_kinds: Vec<super::inference::RunKind>,
    /// `--zk-params`: the setup directories (one per matrix shape); spot-checks on when any.
    pub zk_params: Vec<PathBuf>,
    pub spot_check_rate: f64,
    /// `--receipts`: false serves plain, unverifiable answers (`node::plain`).
    pub receipts: bool,
}

impl NodeConfig {
    pub fn resolve(a: &ServeArgs) -> Result<Self, String> {
        let file: FileConfig = match &a.config {
            None => FileConfig::default(),
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?
            }
        };
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        let attestation = a
            .attestation
            .clone()
            .or(file.attestation)
            .unwrap_or_else(|| "dev".into());
        if attestation != "dev" && attestation != "nvidia" {
            return Err(format!(
                "--attestation must be `nvidia` or `dev`, not `{attestation}`"
            ));
        }
        let receipts = match a.receipts.as_deref().or(file.receipts.as_deref()) {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => return Err(format!("--receipts must be `on` or `off`, not `{other}`")),
        };
        let chain_given = a.chain.is_some() || file.chain.is_some();
        let chain = a
            .chain
            .clone()
            .or(file.chain)
            .unwrap_or_else(|| "embedded".into());
        let chain_rpc = a.chain_rpc.clone().or(file.chain_rpc);
        let chain_deployment = a.chain_deployment.clone().or(file.chain_deployment);
        let chain = match (chain.as_str(), &chain_rpc) {
            ("embedded" | "rpc", Some(_)) => "rpc".to_string(),
            ("rpc", None) => return Err("--chain rpc needs --chain-rpc URL".into()),
            ("none", Some(_)) => {
                return Err("--chain none and --chain-rpc exclude each other".into())
            }
            ("embedded" | "none", None) => chain,
            _ => {
                return Err(format!(
                "--chain must be `embedded`, `rpc` (with --chain-rpc URL) or `none`, not `{chain}`"
            ))
            }
        };
        if chain_deployment.is_some() && chain_rpc.is_none() {
            return Err("--chain-deployment applies only with --chain-rpc".into());
        }
        if !receipts {
            // Nothing may suggest that the answers of a receipts-off node are attested.
            let refused = [
                (attestation == "nvidia", "--attestation nvidia"),
                (
                    chain == "rpc" || (chain_given && chain != "none"),
                    "a settlement chain",
                ),
                (
                    !a.zk_params.is_empty() || !file.zk_params.is_empty(),
                    "--zk-params",
                ),
                (
                    a.publish_requests || file.publish_requests == Some(true),
                    "--publish-requests",
                ),
                (
                    a.dev_cheat_every.or(file.dev_cheat_every).unwrap_or(0) > 0,
                    "--dev-cheat-every",
                ),
                (!a.rims.is_empty() || !file.rims.is_empty(), "--rim"),
                (!a.ocsp.is_empty() || !file.ocsp.is_empty(), "--ocsp"),
            ];
            if let Some((_, what)) = refused.iter().find(|(on, _)| *on) {
                return Err(format!(
                    "--receipts off serves unverifiable answers and is refused with {what}"
                ));
            }
        }
        let challenge_window_secs = a
            .challenge_window_secs
            .or(file.challenge_window_secs)
            .unwrap_or(120);
        if challenge_window_secs == 0 {
            return Err("--challenge-window-secs must be at least 1".into());
        }
        let chain_spot_check_ppm = a
            .chain_spot_check_ppm
            .or(file.chain_spot_check_ppm)
            .unwrap_or(10_000);
        if chain_spot_check_ppm > 1_000_000 {
            return Err("--chain-spot-check-ppm is at most 1000000 (every receipt)".into());
        }
        let dev_cheat_every = a.dev_cheat_every.or(file.dev_cheat_every).unwrap_or(0);
        if dev_cheat_every > 0 && attestation == "nvidia" {
            return Err(
                "--dev-cheat-every is a dev tool for dispute tests and is refused with --attestation nvidia"
                    .into(),
            );
        }
        let kinds = a
            .dev_cheat_kind
            .clone()
            .or(file.dev_cheat_kind)
            .unwrap_or_else(|| "embed".into());
        let mut dev_cheat_kinds = Vec::new();
        for k in kinds.split(',').map(str::trim) {
            dev_cheat_kinds.push(match k {
                "embed" => super::inference::RunKind::Cheat,
                "token" => super::inference::RunKind::CheatToken,
                "logits" => super::inference::RunKind::CheatLogits,
                "matrix" => super::inference::RunKind::CheatMatrix,
                "attention" => super::inference::RunKind::CheatAttn,
                "prompt" => super::inference::RunKind::CheatPrompt,
                "split" => super::inference::RunKind::CheatSplit,
                "resplit" => super::inference::RunKind::CheatResplit,
                "bytes" => super::inference::RunKind::CheatBytes,
                "spell" => super::inference::RunKind::CheatSpell,
                other => {
                    return Err(format!(
                        "--dev-cheat-kind takes `embed`, `token`, `logits`, `matrix`, \
                         `attention`, `prompt`, `split`, `resplit`, `bytes` or `spell` (or a \
                         comma-separated list of them), \
                         not `{other}`"
                    ))
                }
            });
        }
        let web_demo = a.web_demo.clone().or(file.web_demo).or_else(|| {
            let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web-demo");
            p.join("index.html").exists().then_some(p)
        });
        Ok(NodeConfig {
            listen: a
                .listen
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:8080".parse().expect("addr")),
            data_dir: a
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| home.join(".local/share/otr")),
            attestation,
            batch_window_ms: a.batch_window_ms.or(file.batch_window_ms).unwrap_or(200),
            model: a
                .model
                .clone()
                .or(file.model)
                .unwrap_or_else(|| "gemma3-270m".into()),
            chain_id: a.chain_id.or(file.chain_id).unwrap_or(31337),
            rims: if a.rims.is_empty() {
                file.rims
            } else {
                a.rims.clone()
            },
            ocsp: if a.ocsp.is_empty() {
                file.ocsp
            } else {
                a.ocsp.clone()
            },
            web_demo,
            chain: if receipts { chain } else { "none".into() },
            chain_rpc,
            chain_deployment,
            challenge_window_secs,
            chain_spot_check_ppm,
            chain_max_fee_gwei: a.chain_max_fee_gwei.or(file.chain_max_fee_gwei),
            post_interval_ms: a
                .post_interval_ms
                .or(file.post_interval_ms)
                .unwrap_or(2000)
                .max(1),
            publish_requests: a.publish_requests || file.publish_requests.unwrap_or(false),
            dev_cheat_every,
            dev_cheat_kinds,
            zk_params: if a.zk_params.is_empty() {
                file.zk_params
            } else {
                a.zk_params.clone()
            },
            receipts,
            spot_check_rate: {
                let r = a
                    .spot_check_rate
                    .or(file.spot_check_rate)
                    .unwrap_or(super::spotcheck::DEFAULT_RATE);
                if !(0.0..=1.0).contains(&r) {
                    return Err(format!("--spot-check-rate must be in [0, 1], not {r}"));
                }
                r
            },
        })
    }
}

/// A config-file field given as one path or a list of paths.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(PathBuf),
        Many(Vec<PathBuf>),
    }
    Ok(match <OneOrMany as serde::Deserialize>::deserialize(d)? {
        OneOrMany::One(p) => vec![p],
        OneOrMany::Many(v) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zk_params_in_a_config_file_are_one_path_or_a_list() {
        let one: FileConfig = toml::from_str(r#"zk_params = "/k/64x64""#).unwrap();
        assert_eq!(one.zk_params, [PathBuf::from("/k/64x64")]);
        let many: FileConfig = toml::from_str(r#"zk_params = ["/k/a", "/k/b"]"#).unwrap();
        assert_eq!(
            many.zk_params,
            [PathBuf::from("/k/a"), PathBuf::from("/k/b")]
        );
        let none: FileConfig = toml::from_str("").unwrap();
        assert!(none.zk_params.is_empty());
        assert!(toml::from_str::<FileConfig>("zk_params = 3").is_err());
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn resolve(args: &[&str]) -> Result<NodeConfig, String> {
        use clap::Parser;
        let cli = Cli::try_parse_from(std::iter::once("otr").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        NodeConfig::resolve(&cli.serve)
    }

    #[test]
    fn dev_cheat_kinds_take_a_list_and_refuse_unknown_ones() {
        use super::super::inference::RunKind;
        let c = resolve(&["--dev-cheat-every", "2"]).unwrap();
        assert_eq!(c.dev_cheat_kinds, [RunKind::Cheat]);
        let c = resolve(&[
            "--dev-cheat-every",
            "2",
            "--dev-cheat-kind",
            "logits, matrix,token,split",
        ])
        .unwrap();
        assert_eq!(
            c.dev_cheat_kinds,
            [
                RunKind::CheatLogits,
                RunKind::CheatMatrix,
                RunKind::CheatToken,
                RunKind::CheatSplit
            ]
        );
        for bad in ["", "logits,", "sample"] {
            let e = resolve(&["--dev-cheat-every", "2", "--dev-cheat-kind", bad]).unwrap_err();
            assert!(e.contains("--dev-cheat-kind takes"), "{bad}: {e}");
        }
    }
}
