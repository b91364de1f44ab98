/* avatar_handler: GET/HEAD /<uid> and /<uid>.<ext> (the "/" prefix; declines other paths). */
#ifndef PIXD_SERVER_AVATAR_HANDLER_H
#define PIXD_SERVER_AVATAR_HANDLER_H

#include "server/req.h"

bool avatar_handle(req_t *r);

#endif
