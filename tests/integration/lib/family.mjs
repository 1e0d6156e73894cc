// SPDX-License-Identifier: Apache-2.0
// Start-up shared by the provider family tests: sluice-mock acts as the provider and sluice-gateway
// is configured to reach it, so each test file states only its config and its keys.

import assert from 'node:assert/strict';

import { startGateway, startMock } from './harness.mjs';

// Starts sluice-mock with `mockOptions`, then sluice-gateway with the config and environment
// that `gatewayOptions(mockUrl)` returns. Returns { mock, gateway }. When the gateway fails to
// start, the mock is stopped before the error is rethrown.
export async function startMockAndGateway({ mockOptions = {}, gatewayOptions }) {
    const mock = await startMock(mockOptions);

    try {
        const gateway = await startGateway(gatewayOptions(mock.url));
        return { mock, gateway };
    } catch (err) {
        await mock.stop();
        throw err;
    }
}

// Stops `gateway`, then `mock`. Either may be undefined when start-up failed.
export async function stopMockAndGateway({ mock, gateway }) {
    if (gateway) {
        await gateway.stop();
    }
    if (mock) {
        await mock.stop();
    }
}

// Returns the only request `mock` received, with its body parsed into `json`. Fails the test
// when the mock received no request or more than one.
export async function onlyUpstreamRequest(mock) {
    const reqs = await mock.requests();
    assert.equal(reqs.length, 1, `upstream requests: ${JSON.stringify(reqs).slice(0, 1000)}`);
    return { ...reqs[0], json: JSON.parse(reqs[0].body) };
}
