/* confschema: the schema table, one row per key of the config file (confschema.h says
 * what a row holds and what else adding a key takes), the hint each kind of value gives in
 * a message, and which flag each optional listener's key sets. Constant data only. */
#include "confschema.h"

const struct sf_conf_field sf_conf_schema[] = {
    {"listen", K_ADDR_OR_NULL, OFF(listen), 0, 0},
    {"tls.listen", K_ADDR_OR_NULL, OFF(tls_listen), 0, 0},
    {"tls.cert", K_PEM_FILE, OFF(tls_cert_path), 0, 0},
    {"tls.key", K_PEM_FILE, OFF(tls_key_path), 0, 0},
    {"upstream", K_URL, OFF(upstream), 0, 0},
    {"upstream_tls.ca_file", K_FILE, OFF(upstream_ca_file), 0, 0},
    {"upstream_tls.verify", K_BOOL, OFF(upstream_verify), 0, 0},
    {"upstream_tls.sni", K_HOSTNAME, OFF(upstream_sni), 0, 0},
    {"upstreams", K_UPSTREAMS, OFF(upstreams), 0, 0},
    {"forward_proxy", K_SWITCH, OFF(forward_proxy), 0, 0},
    {"forward_proxy.enabled", K_BOOL, OFF(forward_proxy), 0, 0},
    {"forward_proxy.allow", K_DESTS, OFF(forward_allow), 0, 0},
    {"forward_proxy.clients", K_NETS, OFF(forward_clients), 0, 0},
    {"trusted_proxies", K_NETS, OFF(trusted_proxies), 0, 0},
    {"forwarded_header", K_BOOL, OFF(forwarded_header), 0, 0},
    {"preserve_host", K_BOOL, OFF(preserve_host), 0, 0},
    {"forward_underscore_fields", K_BOOL, OFF(underscore_fields), 0, 0},
    {"workers", K_UINT, OFF(workers), 0, 256},
    {"connection_limit", K_UINT, OFF(connection_limit), 16, 1000000},
    {"max_request_body_bytes", K_BYTES, OFF(max_request_body_bytes), 0, UINT64_C(1) << 40},
    {"log_level", K_LOGLEVEL, OFF(log_level), 0, 0},
    {"timeouts.connect", K_MS, OFF(connect_timeout_ms), 1, 3600000},
    {"timeouts.first_byte", K_MS, OFF(first_byte_timeout_ms), 1, 86400000},
    {"timeouts.upstream_idle", K_MS, OFF(upstream_idle_timeout_ms), 1000, 86400000},
    {"timeouts.client_idle", K_MS, OFF(client_idle_timeout_ms), 1000, 86400000},
    {"timeouts.request_head", K_MS, OFF(request_head_timeout_ms), 100, 3600000},
    {"timeouts.shutdown_grace", K_MS, OFF(shutdown_grace_ms), 0, 3600000},
    {"cache.max_bytes", K_BYTES, OFF(cache_max_bytes), 0, UINT64_C(1) << 44},
    {"cache.max_object_bytes", K_BYTES, OFF(cache_max_object_bytes), 0, UINT64_C(1) << 40},
    {"cache.slice_bytes", K_BYTES, OFF(cache_slice_bytes), 0, UINT64_C(1) << 40},
    {"cache.max_variants", K_UINT, OFF(cache_max_variants), 1, 100000},
    {"cache.hit_for_pass", K_MS, OFF(hit_for_pass_ms), 0, 86400000},
    {"cache.surrogate_key_header", K_FIELD, OFF(surrogate_key_header), 0, 0},
    {"cache.targeted_fields", K_TARGETS, OFF(targeted), 0, 0},
    {"cache.heuristic_percent", K_UINT, OFF(heuristic_percent), 0, 100},
    {"cache.heuristic_max", K_MS, OFF(heuristic_max_ms), 0, 31536000000ULL},
    {"cache.strip_set_cookie", K_BOOL, OFF(strip_set_cookie), 0, 0},
    {"cache.store_server_errors", K_BOOL, OFF(store_server_errors), 0, 0},
    {"cache.store_post_responses", K_BOOL, OFF(store_post_responses), 0, 0},
    {"cache.normalize_accept_encoding", K_BOOL, OFF(normalize_accept_encoding), 0, 0},
    {"cache.stale_if_error", K_MS, OFF(stale_if_error_ms), 0, 31536000000ULL},
    {"cache.stale_while_revalidate", K_MS, OFF(stale_while_revalidate_ms), 0, 31536000000ULL},
    {"cache.max_pinned_bytes", K_BYTES, OFF(cache_max_pinned_bytes), UINT64_C(1) << 20,
     UINT64_C(1) << 44},
    {"cache.disk.path", K_DIR, OFF(disk_path), 0, 0},
    {"cache.disk.max_bytes", K_BYTES, OFF(disk_max_bytes), UINT64_C(16) << 20, UINT64_C(1) << 50},
    {"cache.disk.queue_bytes", K_BYTES, OFF(disk_queue_bytes), UINT64_C(1) << 20,
     UINT64_C(1) << 32},
    {"admin.listen", K_ADDR_OR_NULL, OFF(admin_listen), 0, 0},
    {"admin.connection_limit", K_UINT, OFF(admin_connection_limit), 1, 10000},
    {"admin.token", K_TOKEN, OFF(admin_token), 0, 0},
    {"admin.token_file", K_TOKEN_FILE, OFF(admin_token), 0, 0},
    {"access_log.path", K_LOG_PATH, OFF(access_log_path), 0, 0},
    {"access_log.format", K_LOG_FORMAT, OFF(access_log_format), 0, 0},
    {"access_log.buffer", K_BYTES, OFF(access_log_buffer_bytes), 65536, UINT64_C(1) << 30},
    {"cluster.self", K_NAME, OFF(cluster_self), 0, 0},
    {"cluster.peers", K_PEERS, OFF(cluster_peers), 0, 0},
    {"cluster.secret", K_TOKEN, OFF(cluster_secret), 0, 0},
    {"cluster.secret_file", K_TOKEN_FILE, OFF(cluster_secret), 0, 0},
    {"cluster.peer_connect_timeout", K_MS, OFF(cluster_peer_connect_timeout_ms), 1, 60000},
    {"cluster.peer_retry", K_MS, OFF(cluster_peer_retry_ms), 100, 3600000},
    {"cluster.store_on_edge", K_BOOL, OFF(cluster_store_on_edge), 0, 0},
    {"routes", K_ROUTES, OFF(routes), 0, 0},
};
const size_t sf_conf_nfields = sizeof sf_conf_schema / sizeof sf_conf_schema[0];

const char *sf_conf_kind_hint(enum sf_conf_kind k)
{
    switch (k) {
    case K_ADDR: return "an address string like \"127.0.0.1:8080\"";
    case K_ADDR_OR_NULL: return "an address string like \"127.0.0.1:8080\", or null for none";
    case K_URL:
        return "a base URL string like \"http://127.0.0.1:9000\", or the name of a pool of "
               "\"upstreams\"";
    case K_BOOL: return "true or false";
    case K_UINT: return "a whole number";
    case K_BYTES: return "a byte count like 268435456 or \"256MiB\"";
    case K_MS: return "a duration like 1500 (milliseconds), \"1500ms\" or \"5s\"";
    case K_LOGLEVEL: return "one of \"error\", \"warn\", \"info\", \"debug\"";
    case K_FIELD: return "a header field name like \"Surrogate-Key\"";
    case K_SWITCH: return "true, false or an object {\"enabled\": true, ...}";
    case K_NETS: return "a list of addresses or networks like [\"10.0.0.0/8\", \"::1\"]";
    case K_DESTS:
        return "a list of host names, host:port, \"*.example.com\", addresses or networks "
               "like [\"api.example.com\", \"10.0.0.0/8\"]";
    case K_TOKEN: return "a string of at least 16 printable characters (a random secret)";
    case K_TOKEN_FILE: return "the path of a readable file holding the token";
    case K_LOG_PATH:
        return "\"-\" (standard output), the path of a file to append to, or null for none";
    case K_LOG_FORMAT: return "\"combined\" or \"json\"";
    case K_FILE: return "the path of a readable file";
    case K_PEM_FILE: return "the path of a readable PEM file";
    case K_HOSTNAME: return "a host name like \"origin.example.com\"";
    case K_NAME: return "a name of letters, digits, '-', '_' and '.' like \"node-1\"";
    case K_PEERS:
        return "a list of peers like [{\"id\": \"node-1\", \"url\": \"http://10.0.0.1:8080\", "
               "\"weight\": 1}]";
    case K_ROUTES:
        return "a list of routes like [{\"name\": \"api\", \"match\": {\"path_prefix\": "
               "\"/api/\"}, \"cache\": {\"ttl\": \"5s\"}}] (docs/routes.md)";
    case K_UPSTREAMS:
        return "an object of named pools like {\"api\": {\"servers\": [{\"url\": "
               "\"http://10.0.0.5:9000\"}]}} (docs/configuration.md)";
    case K_DIR: return "the path of a directory like \"/var/cache/sfproxy\"";
    case K_TARGETS:
        return "a list of field names like [\"Sfproxy-Cache-Control\", \"CDN-Cache-Control\"], "
               "or an empty list";
    }
    return "";
}

bool *sf_conf_listener_on(struct sf_config *cfg, const struct sf_conf_field *f)
{
    return f->off == OFF(listen)         ? &cfg->listen_enabled
           : f->off == OFF(admin_listen) ? &cfg->admin_enabled
                                         : &cfg->tls_enabled;
}
