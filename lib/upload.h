/* upload: a request's content, streamed upstream as it arrives: the steps CONTENT and
 * UPLOAD (reqsteps.h). The content goes through a bounded pipe (reqbody.h) to the
 * request's own fetch (PASS); its connection parks while the pipe is full. */
#ifndef SF_UPLOAD_H
#define SF_UPLOAD_H

#include "reqsteps.h"

#endif
