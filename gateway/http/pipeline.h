/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pipeline -- the stages of one chat request, in order. This file is the map; each stage's
 * code lives where the line says.
 *
 *  1. parse      http/chat.c      route and method, body size (h2o caps it at
 *                                 max_request_size_mb), JSON with a depth cap, then the type
 *                                 checks of http/validate.c. Bad input ends here with a 4xx.
 *  2. auth       auth/auth.c      the key from x-litellm-api-key, Authorization, api-key or
 *                                 x-api-key, compared with the master key in constant time.
 *                auth/keys.c      a virtual key's record by its SHA-256: local cache, Redis,
 *                                 Postgres; the route resumes from the lookup's callback.
 *                auth/access.c    after parsing, the model checked against the key, team,
 *                                 user and organization lists.
 *  3. route      router/router.c  the model group the client named, then one deployment of it,
 *                                 picked by router/strategy.c within the lowest order tier.
 *  4. call       http/attempt.c   the deployment's in-flight slot, taken as the call starts
 *                                 (usage-based routing counts the request in Redis here).
 *                providers/       the provider family builds URL, headers and body;
 *                upstream/        curl multi sends it on the worker's loop with the timeout.
 *                http/failover.c  a call that failed before the client's first byte is
 *                                 retried in its group, then sent to the fallback groups.
 *  5. relay      http/relay.c     a whole response is translated and sent; a stream is parsed
 *                                 event by event, translated and relayed with backpressure.
 *                                 A client that goes away cancels the upstream call.
 *  6. report     http/request.c   response headers (x-litellm-*), one access log line.
 *
 * Later stages (limits, budgets, cache, spend, metrics) slot in between 2 and 3 and after 5.
 */
#ifndef SL_PIPELINE_H
#define SL_PIPELINE_H

struct sl_request;

/* Starts stage 4 for a validated, routed request; the relay takes it from there. */
void sl_relay_start(struct sl_request *r);

#endif /* SL_PIPELINE_H */
