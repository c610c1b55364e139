# Multi-stage build on Debian 12: compile with the -dev packages, ship only
# the runtime libraries and the attestd binary.
FROM debian:12 AS build
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
RUN bash scripts/setup.sh
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DATTESTD_TESTS=OFF \
 && cmake --build build -j"$(nproc)" --target attestd

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libhiredis0.14 libsimdjson14 \
      libtss2-mu0 libtss2-rc0 libssl3 libboost-program-options1.74.0 libjwt0 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/attestd --create-home attestd
COPY --from=build /src/build/attestd /usr/local/bin/attestd
USER attestd
EXPOSE 8080 8890 8891
ENV ATTESTD_LISTEN=0.0.0.0:8080 \
    ATTESTD_REGISTRAR_LISTEN=0.0.0.0:8890 \
    ATTESTD_REGISTRAR_ADMIN_LISTEN=0.0.0.0:8891 \
    ATTESTD_DATA_DIR=/var/lib/attestd/data
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/attestd"]
