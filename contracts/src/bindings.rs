//! ABI bindings generated at compile time from the committed artifacts
//! (`contracts/artifacts/*.json`, written by `scripts/build-contracts.sh`). Each module holds the
//! contract's calls, events, errors, structs and its creation `BYTECODE`.

#![allow(missing_docs, clippy::too_many_arguments)]

use alloy_sol_types::SolInterface;

pub mod model_registry {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        ModelRegistry,
        "artifacts/ModelRegistry.json"
    );
}
pub mod node_staking {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        NodeStaking,
        "artifacts/NodeStaking.json"
    );
}
pub mod settlement {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        Settlement,
        "artifacts/Settlement.json"
    );
}
pub mod dispute_game {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        DisputeGame,
        "artifacts/DisputeGame.json"
    );
}
pub mod spot_checks {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        SpotChecks,
        "artifacts/SpotChecks.json"
    );
}
pub mod rewards {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        Rewards,
        "artifacts/Rewards.json"
    );
}
pub mod wide_add {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        WideAddStepVerifier,
        "artifacts/WideAddStepVerifier.json"
    );
}
pub mod norm_step {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        NormStepVerifier,
        "artifacts/NormStepVerifier.json"
    );
}
pub mod rope_step {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        RopeStepVerifier,
        "artifacts/RopeStepVerifier.json"
    );
}
pub mod embed_step {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        EmbedStepVerifier,
        "artifacts/EmbedStepVerifier.json"
    );
}
pub mod sample_step {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        SampleStepVerifier,
        "artifacts/SampleStepVerifier.json"
    );
}
pub mod logits_step {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        LogitsStepVerifier,
        "artifacts/LogitsStepVerifier.json"
    );
}
pub mod prompt_step {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        PromptStepVerifier,
        "artifacts/PromptStepVerifier.json"
    );
}
pub mod matrow_step {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        MatRowStepVerifier,
        "artifacts/MatRowStepVerifier.json"
    );
}
pub mod refutable_step {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        IRefutableStep,
        "artifacts/IRefutableStep.json"
    );
}
pub mod vcache_step {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        VCacheStepVerifier,
        "artifacts/VCacheStepVerifier.json"
    );
}
pub mod act_step {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        ActStepVerifier,
        "artifacts/ActStepVerifier.json"
    );
}
pub mod attn_step {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        AttnStepVerifier,
        "artifacts/AttnStepVerifier.json"
    );
}
pub mod matvec_step {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        MatVecStepVerifier,
        "artifacts/MatVecStepVerifier.json"
    );
}
pub mod matvec_groth16 {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        MatVecGroth16Verifier,
        "artifacts/MatVecGroth16Verifier.json"
    );
}
pub mod poseidon_rounds {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        PoseidonRounds,
        "artifacts/PoseidonRounds.json"
    );
}
pub mod groth16_step {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        Groth16StepVerifier,
        "artifacts/Groth16StepVerifier.json"
    );
}
pub mod groth16_muladd {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        Groth16VerifierMulAdd,
        "artifacts/Groth16VerifierMulAdd.json"
    );
}

/// Names a revert of one of our contracts (`Name { fields }`), or `Error(string)` / `Panic`.
pub fn decode_revert(data: &[u8]) -> Option<String> {
    macro_rules! try_errors {
        ($($t:ty),*) => {$(
            if let Ok(e) = <$t>::abi_decode(data) {
                return Some(format!("{e:?}").split_once('(').map(|(_, r)| r.trim_end_matches(')').to_string()).unwrap_or_default());
            }
        )*};
    }
    try_errors!(
        settlement::Settlement::SettlementErrors,
        dispute_game::DisputeGame::DisputeGameErrors,
        spot_checks::SpotChecks::SpotChecksErrors,
        rewards::Rewards::RewardsErrors,
        node_staking::NodeStaking::NodeStakingErrors,
        model_registry::ModelRegistry::ModelRegistryErrors,
        matvec_step::MatVecStepVerifier::MatVecStepVerifierErrors,
        matvec_groth16::MatVecGroth16Verifier::MatVecGroth16VerifierErrors,
        sample_step::SampleStepVerifier::SampleStepVerifierErrors,
        logits_step::LogitsStepVerifier::LogitsStepVerifierErrors,
        matrow_step::MatRowStepVerifier::MatRowStepVerifierErrors,
        attn_step::AttnStepVerifier::AttnStepVerifierErrors,
        prompt_step::PromptStepVerifier::PromptStepVerifierErrors
    );
    if let Ok(e) = alloy_sol_types::GenericContractError::abi_decode(data) {
        return Some(format!("{e:?}"));
    }
    None
}
