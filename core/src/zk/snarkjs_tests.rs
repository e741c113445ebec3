//! snarkjs JSON forms: round trips, errors, and a real snarkjs proof.

use super::*;

#[test]
fn snarkjs_json_round_trip() {
    let f = fixture();
    let vk_json = snarkjs::vk_to_json(&f.pk.vk);
    assert!(vk_json.contains("\"nPublic\":2"));
    let proof_json = snarkjs::proof_to_json(&f.proof);
    let public_json = snarkjs::public_inputs_to_json(&f.inputs);
    assert_eq!(public_json, "[\"33\",\"14\"]");
    let vk = snarkjs::parse_vk(&vk_json).unwrap();
    assert_eq!(
        vk.key_id(),
        PreparedVk::new(f.pk.vk.clone()).unwrap().key_id()
    );
    let proof = snarkjs::parse_proof(&proof_json).unwrap();
    assert_eq!(proof, f.proof);
    let inputs = snarkjs::parse_public_inputs(&public_json).unwrap();
    vk.verify(&proof, &inputs).unwrap();
    assert_eq!(
        vk.verify(
            &proof,
            &snarkjs::parse_public_inputs("[\"33\",\"15\"]").unwrap()
        ),
        Err(ProofError::Invalid)
    );
}

#[test]
fn snarkjs_json_errors() {
    let f = fixture();
    let vk_json = snarkjs::vk_to_json(&f.pk.vk);
    let proof_json = snarkjs::proof_to_json(&f.proof);
    let code = |r: Result<PreparedVk, ProofError>| r.unwrap_err().code();

    // G2 with c0/c1 swapped (the Solidity calldata order) is not a curve point.
    let v: serde_json::Value = serde_json::from_str(&proof_json).unwrap();
    let mut swapped = v.clone();
    for coord in 0..2 {
        let pair = swapped["pi_b"][coord].as_array_mut().unwrap();
        pair.swap(0, 1);
    }
    let e = snarkjs::parse_proof(&swapped.to_string()).unwrap_err();
    assert_eq!(
        e,
        ProofError::PointInvalid {
            what: "pi_b".into(),
            offset: None
        }
    );
    let mut z = v.clone();
    z["pi_a"][2] = "2".into();
    assert_eq!(
        snarkjs::parse_proof(&z.to_string()).unwrap_err().code(),
        "PROOF_POINT_INVALID"
    );
    let mut lead = v.clone();
    let x = lead["pi_c"][0].as_str().unwrap().to_string();
    lead["pi_c"][0] = alloc::format!("0{x}").into();
    assert_eq!(
        snarkjs::parse_proof(&lead.to_string()).unwrap_err().code(),
        "PROOF_JSON_INVALID"
    );
    let p = "21888242871839275222246405745257275088696311157297823662689037894645226208583";
    let mut modulus = v.clone();
    modulus["pi_a"][0] = p.into();
    assert_eq!(
        snarkjs::parse_proof(&modulus.to_string())
            .unwrap_err()
            .code(),
        "PROOF_JSON_INVALID"
    );
    let mut plonk = v.clone();
    plonk["protocol"] = "plonk".into();
    assert_eq!(
        snarkjs::parse_proof(&plonk.to_string()).unwrap_err().code(),
        "PROOF_UNSUPPORTED"
    );
    let mut shape = v;
    shape["pi_b"][0] = serde_json::json!(["1"]);
    assert_eq!(
        snarkjs::parse_proof(&shape.to_string()).unwrap_err().code(),
        "PROOF_JSON_INVALID"
    );

    let vkv: serde_json::Value = serde_json::from_str(&vk_json).unwrap();
    let mut n = vkv.clone();
    n["nPublic"] = 3.into();
    assert_eq!(
        code(snarkjs::parse_vk(&n.to_string())),
        "PROOF_VK_MALFORMED"
    );
    let mut n = vkv.clone();
    n["nPublic"] = 100_000.into();
    assert_eq!(
        code(snarkjs::parse_vk(&n.to_string())),
        "PROOF_TOO_MANY_INPUTS"
    );
    let mut c = vkv.clone();
    c["curve"] = "bls12381".into();
    assert_eq!(code(snarkjs::parse_vk(&c.to_string())), "PROOF_UNSUPPORTED");
    let mut g = vkv;
    let bad = g2_outside_subgroup();
    let (x, y) = bad.xy().unwrap();
    g["vk_gamma_2"] = serde_json::json!([
        [x.c0.to_string(), x.c1.to_string()],
        [y.c0.to_string(), y.c1.to_string()],
        ["1", "0"]
    ]);
    assert_eq!(
        snarkjs::parse_vk(&g.to_string()).unwrap_err(),
        ProofError::PointInvalid {
            what: "vk_gamma_2".into(),
            offset: None
        }
    );

    let r = "21888242871839275222246405745257275088548364400416034343698204186575808495617";
    assert_eq!(
        snarkjs::parse_public_inputs(&alloc::format!("[\"1\",\"{r}\"]")),
        Err(ProofError::InputNotCanonical { index: 1 })
    );
    for bad in ["[\"-1\"]", "[\"\"]", "[\"1e3\"]", "[\" 1\"]", "[1]"] {
        assert!(snarkjs::parse_public_inputs(bad).is_err(), "{bad}");
    }
    let big = alloc::format!("[{}\"1\"]", "\"1\",".repeat(MAX_PUBLIC_INPUTS));
    assert_eq!(
        snarkjs::parse_public_inputs(&big).unwrap_err().code(),
        "PROOF_TOO_MANY_INPUTS"
    );
    let huge = " ".repeat(MAX_JSON_LEN + 1);
    assert_eq!(
        snarkjs::parse_public_inputs(&huge).unwrap_err().code(),
        "PROOF_TOO_LARGE"
    );
}

/// A real snarkjs 0.7.6 proof (`fixtures/zk/snarkjs_muladd`, see its case.json).
mod snarkjs_fixture {
    use super::*;

    const VK: &str = include_str!("../../../fixtures/zk/snarkjs_muladd/verification_key.json");
    const PROOF: &str = include_str!("../../../fixtures/zk/snarkjs_muladd/proof.json");
    const PUBLIC: &str = include_str!("../../../fixtures/zk/snarkjs_muladd/public.json");

    #[test]
    fn verifies() {
        let vk = snarkjs::parse_vk(VK).unwrap();
        assert_eq!(vk.public_input_count(), 2);
        let proof = snarkjs::parse_proof(PROOF).unwrap();
        let inputs = snarkjs::parse_public_inputs(PUBLIC).unwrap();
        assert_eq!(inputs, [Fr::from(33u64), Fr::from(14u64)]);
        vk.verify(&proof, &inputs).unwrap();
        // The same proof through the bundle form (compressed bytes, 32-byte inputs).
        let be: Vec<[u8; 32]> = inputs.iter().map(scalar_to_be_bytes).collect();
        vk.verify_bytes(&proof.to_bytes(Compress::Yes), &be)
            .unwrap();
        // And through the arkworks binary key.
        let mut vk_bytes = Vec::new();
        vk.vk().serialize_compressed(&mut vk_bytes).unwrap();
        PreparedVk::from_bytes(&vk_bytes, Compress::Yes)
            .unwrap()
            .verify(&proof, &inputs)
            .unwrap();
    }

    #[test]
    fn rejects_wrong_inputs_and_swapped_g2() {
        let vk = snarkjs::parse_vk(VK).unwrap();
        let proof = snarkjs::parse_proof(PROOF).unwrap();
        let wrong = snarkjs::parse_public_inputs("[\"33\",\"13\"]").unwrap();
        assert_eq!(vk.verify(&proof, &wrong), Err(ProofError::Invalid));
        let mut v: serde_json::Value = serde_json::from_str(PROOF).unwrap();
        for coord in 0..2 {
            v["pi_b"][coord].as_array_mut().unwrap().swap(0, 1);
        }
        assert_eq!(
            snarkjs::parse_proof(&v.to_string()).unwrap_err().code(),
            "PROOF_POINT_INVALID"
        );
    }
}
