/* stats: GET /status (connections, requests, avatar cache, memory held, image jobs). */
#ifndef PIXD_SERVER_STATS_H
#define PIXD_SERVER_STATS_H

#include "server/req.h"

bool stats_handle(req_t *r);

#endif
