// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Single-owner access control (governance; a multisig or timelock in production).
abstract contract Owned {
    address public owner;

    error Unauthorized(address caller);

    event OwnershipTransferred(address indexed from, address indexed to);

    constructor(address owner_) {
        owner = owner_;
        emit OwnershipTransferred(address(0), owner_);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert Unauthorized(msg.sender);
        _;
    }

    function transferOwnership(address to) external onlyOwner {
        emit OwnershipTransferred(owner, to);
        owner = to;
    }
}
