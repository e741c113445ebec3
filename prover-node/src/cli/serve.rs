//! `otr serve`: the prover node.

use std::sync::Arc;

use otr_core::attestation::{Policy, TrustAnchors};

use super::CliError;
use crate::node::attest::{Attestor, DevAttestor, NvidiaAttestor};
use crate::node::config::{NodeConfig, ServeArgs};
use crate::node::{api, batcher, keys, store, Node};

fn fail(code: &str) -> impl Fn(String) -> CliError + '_ {
    move |m| CliError::usage(code, m)
}

/// Builds the node from its configuration (shared with tests).
pub fn build_node(config: NodeConfig) -> Result<Node, CliError> {
    let store =
        store::Store::open(&config.data_dir.join("node.sqlite3")).map_err(fail("NODE_STORE"))?;
    let node_key =
        keys::load_or_create(&config.data_dir.join("node-key.hex")).map_err(fail("NODE_KEY"))?;
    let attestor: Arc<dyn Attestor> = match config.attestation.as_str() {
        "nvidia" => {
            let read = |p: &std::path::PathBuf| {
                std::fs::read(p)
                    .map_err(|e| CliError::usage("INPUT_READ", format!("{}: {e}", p.display())))
            };
            let rims = config
                .rims
                .iter()
                .map(|p| read(p).map(|b| String::from_utf8_lossy(&b).into_owned()))
                .collect::<Result<_, _>>()?;
            let ocsp = config
                .ocsp
                .iter()
                .map(|p| {
                    read(p).and_then(|b| {
                        otr_core::ocsp::decode_ocsp_input(&b).map_err(|e| CliError::rejected(&e))
                    })
                })
                .collect::<Result<_, _>>()?;
            Arc::new(NvidiaAttestor::open(0, rims, ocsp).map_err(fail("NO_CC_GPU"))?)
        }
        _ => Arc::new(DevAttestor::load_or_create(&config.data_dir).map_err(fail("NODE_DEV_GPU"))?),
    };
    let mut anchors = TrustAnchors::nvidia();
    let mut policy = Policy::default();
    if let Some(root) = attestor.dev_root_pem() {
        let der = otr_core::encoding::pem_certificates(root.as_bytes())
            .map_err(|_| CliError::usage("NODE_DEV_GPU", "bad dev root"))?;
        let cert = otr_core::x509::Certificate::from_der(&der[0])
            .map_err(|e| CliError::usage("NODE_DEV_GPU", e.reason))?;
        anchors = anchors.with_dev_root(cert);
        policy.allow_dev_roots = true;
    }
    if config.rims.is_empty() {
        policy.require_rims = false;
    }
    if config.ocsp.is_empty() {
        policy.require_ocsp = false;
    }
    let engine = crate::node::engine_impl::load(&config.model, &config.data_dir)
        .map_err(fail("MODEL_LOAD"))?;
    let settlement = match config.chain.as_str() {
        "embedded" => Some(
            crate::node::settlement::Settlement::open_embedded(
                &config.data_dir,
                config.chain_id,
                otr_core::rollup::eth_address(node_key.verifying_key()),
                &engine.info(),
                config.challenge_window_secs,
                config.chain_spot_check_ppm,
            )
            .map_err(fail("NODE_CHAIN"))?,
        ),
        "rpc" => Some(
            crate::node::settlement::Settlement::open_rpc(
                config.chain_rpc.as_deref().unwrap_or_default(),
                config.chain_deployment.as_deref(),
                &config.data_dir,
                config.chain_id,
                node_key.clone(),
                &engine.info(),
                config.challenge_window_secs,
                config.chain_spot_check_ppm,
                config.chain_max_fee_gwei,
            )
            .map_err(fail("NODE_CHAIN"))?,
        ),
        _ => None,
    };
    let spotcheck =
        crate::node::spotcheck::open(&config, &store, &engine.info(), settlement.as_ref())
            .map_err(fail("ZK_PARAMS"))?;
    Ok(Node {
        config,
        store,
        engine,
        attestor,
        node_key,
        batch_now: tokio::sync::Notify::new(),
        anchors,
        policy,
        verifier: std::sync::Mutex::new(otr_core::crypto::CachingVerifier::new(
            crate::native_crypto::OpensslVerifier::new(),
            4096,
        )),
        settlement,
        spotcheck,
        mat_vec: Default::default(),
    })
}

pub fn run(args: ServeArgs) -> Result<(), CliError> {
    let config = NodeConfig::resolve(&args).map_err(fail("CONFIG"))?;
    if !config.receipts {
        return crate::node::plain::run(config).map_err(|(code, m)| CliError::usage(code, m));
    }
    let rt =
        tokio::runtime::Runtime::new().map_err(|e| CliError::usage("RUNTIME", e.to_string()))?;
    rt.block_on(async move {
        let listen = config.listen;
        let node = Arc::new(tokio::task::spawn_blocking(move || build_node(config)).await.map_err(|e| CliError::usage("NODE", e.to_string()))??);
        // A big model's Poseidon root, registered as zero at start, once it is computed.
        crate::node::zkroot::register_when_ready(node.clone());
        if node.attestor.kind() == "dev" {
            eprintln!("otr: WARNING: dev attestation (software-signed evidence): NOT PRODUCTION, proves nothing about hardware");
        }
        if node.config.dev_cheat_every > 0 {
            eprintln!(
                "otr: WARNING: DEV CHEAT MODE (--dev-cheat-every {}): one answer in {} is WRONG ON PURPOSE; for dispute tests only",
                node.config.dev_cheat_every, node.config.dev_cheat_every
            );
        }
        if node.config.publish_requests {
            eprintln!("otr: publishing request bodies at /v1/receipts/{{id}}/request (--publish-requests): anyone can read every prompt");
        }
        // Receipts answered before a crash and not yet batched are batched now.
        let n = node.clone();
        let recovered = tokio::task::spawn_blocking(move || batcher::close_batch(&n))
            .await
            .map_err(|e| CliError::usage("NODE", e.to_string()))?
            .map_err(fail("NODE_BATCH"))?;
        if recovered > 0 {
            eprintln!("otr: batched {recovered} receipt(s) answered before the last stop");
        }
        // Headers closed before the last stop and not yet posted are posted now.
        let n = node.clone();
        let posted = tokio::task::spawn_blocking(move || batcher::post_pending(&n))
            .await
            .map_err(|e| CliError::usage("NODE", e.to_string()))?
            .map_err(fail("NODE_CHAIN"))?;
        if posted > 0 {
            eprintln!("otr: posted {posted} micro-batch header(s) closed before the last stop");
        }
        if let Some(s) = &node.settlement {
            eprintln!(
                "otr: settlement: {} (settlement contract 0x{}, challenge window {} s, posting every {} ms)",
                s.describe(),
                hex::encode(s.deployment.settlement),
                s.challenge_window_secs,
                node.config.post_interval_ms
            );
        }
        let info = node.engine.info();
        eprintln!(
            "otr: serving {} (weights root {}) on http://{listen}  node 0x{}  attestation {}  window {} ms",
            info.name,
            hex::encode(info.weights_root),
            hex::encode(otr_core::rollup::eth_address(node.node_key.verifying_key())),
            node.attestor.kind(),
            node.config.batch_window_ms
        );
        if let Some(d) = &node.config.web_demo {
            eprintln!("otr: web demo at http://{listen}/ (from {})", d.display());
        }
        tokio::spawn(batcher::run(node.clone()));
        tokio::spawn(batcher::run_poster(node.clone()));
        crate::node::spotcheck::start(node.clone());
        crate::node::defend::load_mat_vec(node.clone());
        crate::node::spotchain::start(node.clone());
        tokio::spawn(crate::node::defend::run(node.clone()));
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| CliError::usage("LISTEN", format!("{listen}: {e}")))?;
        axum::serve(listener, api::router(node.clone()))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| CliError::usage("SERVE", e.to_string()))?;
        let n = node.clone();
        let _ = tokio::task::spawn_blocking(move || {
            batcher::close_batch(&n)?;
            batcher::post_pending(&n)
        })
        .await;
        eprintln!("otr: stopped; every answered receipt is stored and batched");
        Ok(())
    })
}
