/* status: HTTP status codes' reason phrases. */
#ifndef PIXD_HTTP_STATUS_H
#define PIXD_HTTP_STATUS_H

/* The reason phrase of status (RFC 9110), "Unknown" for codes pixd never sends. */
const char *http_status_text(int status);

#endif
