// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Poseidon} from "./lib/Poseidon.sol";

/// @title The Poseidon library's round schedule as a contract's code (a data contract).
/// @notice Deployed once; its runtime code is exactly `Poseidon.ROUNDS` (23,488 bytes), which
///         `Poseidon.hash` copies with EXTCODECOPY after checking the code hash. The constants
///         live here rather than in every contract that hashes: as a literal they would take
///         more than 24 KB of that contract's code. The code starts with a zero byte, so a
///         call to it stops at once.
contract PoseidonRounds {
    constructor() {
        bytes memory r = Poseidon.ROUNDS;
        assembly ("memory-safe") {
            return(add(r, 0x20), mload(r))
        }
    }
}
