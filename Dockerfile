# Multi-stage build on Debian 12: compile with the -dev packages of
# scripts/setup.sh, ship only the runtime libraries and the attestd binary.
# Debian packages only: nothing is downloaded besides apt's.
FROM debian:12 AS build
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
RUN bash scripts/setup.sh
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DATTESTD_TESTS=OFF -DATTESTD_BENCH=OFF \
 && cmake --build build -j"$(nproc)" --target attestd

FROM debian:12-slim
# The shared libraries of CMakeLists.txt's dependencies (the runtime
# packages of the -dev ones): hiredis, simdjson, tss2-mu/tss2-rc, OpenSSL 3,
# Boost.Program_options, libjwt, RE2. Boost.Asio/Beast are header-only;
# libstdc++ is in the base image. curl is for the health check.
# The attestd user has a fixed uid/gid (10001) so that files mounted from
# the host (the --result-key, TLS keys) can be made readable by it alone.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libhiredis0.14 libsimdjson14 libtss2-mu0 libtss2-rc0 libssl3 \
      libboost-program-options1.74.0 libjwt0 libre2-9 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 attestd \
 && useradd --system --uid 10001 --gid attestd --home-dir /var/lib/attestd \
      --shell /usr/sbin/nologin attestd \
 && install -d -o attestd -g attestd -m 0700 /var/lib/attestd /var/lib/attestd/data
COPY --from=build /src/build/attestd /usr/local/bin/attestd

# Every listener on all interfaces of the container (attestd's defaults are
# 127.0.0.1, unreachable from outside a container). Which of them reach the
# host or the network is decided when publishing ports.
#   8080 challenge-response (plain HTTP unless --tls-cert)
#   8890 Keylime registrar, public (agents; plain HTTP, as in Keylime)
#   8891 Keylime registrar, admin (tenant; mTLS)
#   8881 Keylime verifier (tenant and push agents; mTLS)
# The generated CA and certificates of the mTLS listeners (when no
# --registrar-tls-*/--verifier-tls-* files are given) live in the data
# directory: keep it on a volume, or every new container makes a new CA.
ENV ATTESTD_LISTEN=0.0.0.0:8080 \
    ATTESTD_REGISTRAR_LISTEN=0.0.0.0:8890 \
    ATTESTD_REGISTRAR_ADMIN_LISTEN=0.0.0.0:8891 \
    ATTESTD_VERIFIER_LISTEN=0.0.0.0:8881 \
    ATTESTD_DATA_DIR=/var/lib/attestd/data
VOLUME ["/var/lib/attestd/data"]
EXPOSE 8080 8890 8891 8881
USER attestd:attestd
WORKDIR /var/lib/attestd

# Liveness: GET /healthz on the challenge-response listener over plain HTTP.
# It assumes that listener serves plain HTTP on port 8080: with --tls-cert
# (ATTESTD_TLS_CERT) it serves HTTPS and this check fails, as it does if
# --listen moves the port; override HEALTHCHECK (or the compose healthcheck)
# then, e.g. `curl -fsS --cacert ... https://127.0.0.1:8080/healthz`, plus
# --cert/--key when --tls-ca requires client certificates.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS -o /dev/null http://127.0.0.1:8080/healthz || exit 1
# attestd stops cleanly on SIGTERM (docker stop) as PID 1.
ENTRYPOINT ["/usr/local/bin/attestd"]
