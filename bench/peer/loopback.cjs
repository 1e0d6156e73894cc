// SPDX-License-Identifier: Apache-2.0
// Preload (`node --require`) that binds every TCP server of the process to 127.0.0.1.
// Portkey's start-server.js (1.15.2) takes a port but no address and would listen on all
// interfaces, so bench/run loads this before it.
'use strict';
const net = require('node:net');

const LOOPBACK = '127.0.0.1';
const originalListen = net.Server.prototype.listen;

function isPort(value) {
    return typeof value === 'number' || (typeof value === 'string' && /^[0-9]+$/.test(value));
}

net.Server.prototype.listen = function listenOnLoopback(...args) {
    const first = args[0];
    if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
        // listen({port, host, ...}): a path (Unix socket) or a handle is left alone.
        if (first.path === undefined && first.handle === undefined && first.fd === undefined) {
            args[0] = { ...first, host: LOOPBACK };
        }
    } else if (isPort(first)) {
        // listen(port[, host][, backlog][, callback]): the second argument is a host when it is a
        // string, otherwise the host was left out and is inserted.
        if (typeof args[1] === 'string' || args[1] === undefined || args[1] === null) {
            args[1] = LOOPBACK;
        } else {
            args.splice(1, 0, LOOPBACK);
        }
    }
    return originalListen.apply(this, args);
};
