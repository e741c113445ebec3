// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Poseidon} from "../lib/Poseidon.sol";

/// @title Test and gas harness of the Poseidon library (not part of a deployment).
/// @notice `rounds` is a deployed `PoseidonRounds`. The `...Gas` functions return the
///         library's result and the gas its call took (`gasleft()` before and after, so without
///         calldata decoding and the transaction).
contract PoseidonHarness {
    address public immutable rounds;

    constructor(address rounds_) {
        rounds = rounds_;
    }

    function tags() external pure returns (uint256 act16, uint256 wide, uint256 modulus) {
        return (Poseidon.TAG_ACT16, Poseidon.TAG_WIDE, Poseidon.P);
    }

    function hashWith(address r, uint256[] memory elems) external view returns (uint256) {
        return Poseidon.hash(r, elems);
    }

    function hash(uint256[] memory elems) external view returns (uint256) {
        return Poseidon.hash(rounds, elems);
    }

    function pack(bytes memory b) external pure returns (uint256[] memory) {
        return Poseidon.pack(b);
    }

    function hashBytes(uint256 tag, bytes memory b) external view returns (uint256) {
        return Poseidon.hashBytes(rounds, tag, b);
    }

    function inputCommitment(bytes memory act16) external view returns (uint256) {
        return Poseidon.inputCommitment(rounds, act16);
    }

    function outputCommitment(int64[] memory y) external view returns (uint256) {
        return Poseidon.outputCommitment(rounds, y);
    }

    function outputCommitmentBytes(bytes memory wide) external view returns (uint256) {
        return Poseidon.outputCommitmentBytes(rounds, wide);
    }

    function hashGas(uint256[] memory elems) external view returns (uint256 h, uint256 gas) {
        gas = gasleft();
        h = Poseidon.hash(rounds, elems);
        gas -= gasleft();
    }

    function inputCommitmentGas(bytes memory act16) external view returns (uint256 c, uint256 gas) {
        gas = gasleft();
        c = Poseidon.inputCommitment(rounds, act16);
        gas -= gasleft();
    }

    function outputCommitmentGas(int64[] memory y) external view returns (uint256 c, uint256 gas) {
        gas = gasleft();
        c = Poseidon.outputCommitment(rounds, y);
        gas -= gasleft();
    }
}
