# meter-intake: one image for the worker and the review UI (same entrypoints as the tests use).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    METER_INTAKE_VAR_DIR=/var/lib/meter-intake

RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-deu tesseract-ocr-eng \
      libgl1 libglib2.0-0 tzdata postgresql-client \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --system --create-home --home-dir /home/meter meter \
 && mkdir -p /var/lib/meter-intake \
 && chown meter:meter /var/lib/meter-intake

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY app ./app
COPY core ./core
COPY intake ./intake
COPY ocr ./ocr
COPY matching ./matching
COPY notifications ./notifications
COPY review_ui ./review_ui
RUN pip install -c constraints.txt .

USER meter
VOLUME ["/var/lib/meter-intake"]
EXPOSE 8000
ENTRYPOINT ["meter-intake"]
CMD ["worker"]
