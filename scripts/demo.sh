#!/usr/bin/env bash
# The main job: installs dependencies, builds, creates ./hoso.db from config/ and workflows/ (embedded
# SQLite), walks sample dossiers through their paths with the real `hoso` CLI, then runs `hoso serve`
# (config/server.yaml: the HTTP API on 127.0.0.1:8080, the durable timers, notices to
# hoso.db.notifications.jsonl) and drives a dossier through the HTTP API with clerks' own tokens. From a
# terminal the server then keeps running until Ctrl-C; otherwise (CI, no terminal) it is stopped with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
HOSO=./build/adapters/hoso
DB=${HOSO_DB:-hoso.db}
if [ -e "$DB" ]; then
  backup="$DB.$(date +%Y%m%d-%H%M%S).bak"
  mv "$DB" "$backup"; rm -f "$DB-wal" "$DB-shm"
  echo "(đã chuyển cơ sở dữ liệu cũ sang $backup)" >&2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for kind in to_trinh bao_cao_thanh_tich bien_ban_hop y_kien_hiep_y xac_nhan_thanh_tich tom_tat_thanh_tich; do
  printf '%%PDF-1.4 %s\n' "$kind" > "$tmp/$kind.pdf"
done
docs=(); for kind in to_trinh bao_cao_thanh_tich bien_ban_hop y_kien_hiep_y xac_nhan_thanh_tich; do docs+=(--doc "$kind=$tmp/$kind.pdf"); done
h() { echo "\$ hoso $*" >&2; "$HOSO" --db "$DB" "$@"; }

h init
h workflows check >/dev/null

echo; echo "== 1. Giấy khen của Chủ tịch UBND xã Phượng Tiến cho Xóm Khuân Lân"
id=$(h dossier create --workflow standard --award giay_khen_xa --as xom-khuan-lan.clerk \
      --field "recipient_name=Xóm Khuân Lân" --field recipient_kind=collective "${docs[@]}")
h dossier act "$id" submit --as xom-khuan-lan.clerk
h dossier act "$id" return --as ca-xa-phuong-tien.clerk --note "Bổ sung biên bản họp có đủ chữ ký"
h dossier act "$id" resubmit --as xom-khuan-lan.clerk --doc "bien_ban_hop=$tmp/bien_ban_hop.pdf"
h dossier act "$id" accept --as ca-xa-phuong-tien.clerk
h dossier act "$id" appraise --as vhxh-xa-phuong-tien.appraiser
h dossier act "$id" decide --as ubnd-xa-phuong-tien.signer --field "decision_number=15/QĐ-UBND" --field decision_date=2026-03-20
h history "$id"

echo; echo "== 2. Cờ thi đua của UBND tỉnh Thái Nguyên: một tiêu chí chưa đạt, rồi bổ sung"
id=$(h dossier create --workflow standard --award co_thi_dua_tinh --as xom-khuan-lan.clerk \
      --field "recipient_name=Xóm Khuân Lân" --field recipient_kind=collective --field leads_cluster=true \
      --field merits_count=2 --field replicated_models=1 "${docs[@]}")
h dossier act "$id" submit --as xom-khuan-lan.clerk || echo "(mã thoát $? — bị tiêu chí từ chối, như mong đợi)"
h dossier act "$id" submit --as xom-khuan-lan.clerk --field merits_count=3
h inbox --as ca-xa-phuong-tien.clerk
for step in "accept ca-xa-phuong-tien.clerk" "appraise vhxh-xa-phuong-tien.appraiser" "forward ubnd-xa-phuong-tien.signer" \
            "accept ca-tinh-thai-nguyen.clerk" "forward ca-tinh-thai-nguyen.appraiser" "appraise snv-thai-nguyen.appraiser"; do
  set -- $step; h dossier act "$id" "$1" --as "$2"
done
for m in 1 2 3 4; do h dossier act "$id" vote --as "snv-thai-nguyen.council$m" --ballot yes; done
h dossier act "$id" decide --as ubnd-tinh-thai-nguyen.signer --field "decision_number=210/QĐ-UBND" --field decision_date=2026-04-02
h dossier show "$id" --as ubnd-tinh-thai-nguyen.auditor

echo; echo "== 3. Huân chương Lao động hạng Ba: đến Chủ tịch nước"
id=$(h dossier create --workflow standard --award huan_chuong_ld_ba --as thon-phin-ngan.clerk \
      --field "recipient_name=Thôn Phìn Ngan" --field recipient_kind=collective "${docs[@]}")
for step in "submit thon-phin-ngan.clerk" "accept ca-xa-bat-xat.clerk" "appraise vhxh-xa-bat-xat.appraiser" \
            "forward ubnd-xa-bat-xat.signer" "accept ca-tinh-lao-cai.clerk" "forward ca-tinh-lao-cai.appraiser" \
            "appraise snv-lao-cai.appraiser"; do
  set -- $step; h dossier act "$id" "$1" --as "$2"
done
for m in 1 2 3 4; do h dossier act "$id" vote --as "snv-lao-cai.council$m" --ballot yes; done
for step in "forward ubnd-tinh-lao-cai.signer" "accept ban-tdkt-tw.clerk" "forward ban-tdkt-tw.appraiser" "forward vpcp.signer"; do
  set -- $step; h dossier act "$id" "$1" --as "$2"
done
h dossier act "$id" decide --as vp-ctn.signer --field "decision_number=1234/QĐ-CTN" --field decision_date=2026-09-01

echo; echo "== 4. Khen thưởng đột xuất (thủ tục đơn giản)"
id=$(h dossier create --workflow simplified --award giay_khen_xa_dot_xuat --as thon-phin-ngan.clerk \
      --field "recipient_name=Anh Lò Văn Páo" --field recipient_kind=individual --field act_date=2026-01-10 \
      --field "act_summary=Cứu hai học sinh trong lũ quét" --doc "to_trinh=$tmp/to_trinh.pdf" --doc "tom_tat_thanh_tich=$tmp/tom_tat_thanh_tich.pdf")
h dossier act "$id" submit --as thon-phin-ngan.clerk
h dossier act "$id" forward --as ca-xa-bat-xat.clerk
h dossier act "$id" decide --as ubnd-xa-bat-xat.signer --field "decision_number=3/QĐ-UBND" --field decision_date=2026-01-12

echo; echo "== Kiểm tra toàn vẹn"
h replay --all
h audit verify

echo; echo "== 5. Hạn xử lý theo ngày làm việc, trên một cơ sở dữ liệu mô phỏng (đồng hồ ảo)"
SIM="${DB%.db}-mo-phong.db"
rm -f "$SIM" "$SIM-wal" "$SIM-shm" "$SIM.notifications.jsonl"
s() { echo "\$ hoso $*" >&2; "$HOSO" --db "$SIM" "$@"; }
s init --clock virtual --at 2026-04-20T01:00:00Z
s calendar add 2026-04-20 10
id=$(s dossier create --workflow standard --award giay_khen_xa --as xom-khuan-lan.clerk \
      --field "recipient_name=Xóm Khuân Lân" --field recipient_kind=collective "${docs[@]}")
s dossier act "$id" submit --as xom-khuan-lan.clerk
s dossier act "$id" accept --as ca-xa-phuong-tien.clerk
s timers list
s clock set 2026-05-08T01:00:00Z
s inbox --as vhxh-xa-phuong-tien.appraiser
s notify status
s notify deliver
s history "$id"
s audit verify

echo; echo "== 6. Nghĩa vụ báo cáo năm 2026 (config/reports.yaml), trên cơ sở dữ liệu mô phỏng"
s clock set 2026-11-02T01:00:00Z   # qua 0 giờ ngày 01/10: các nghĩa vụ báo cáo năm 2026 tự mở (open_from)
s reports open --year 2026
printf '%%PDF-1.4 bao cao\n' > "$tmp/bao_cao.pdf"
rid=$(s reports status --year 2026 --jurisdiction lao-cai | awk -F'\t' '/Tổ dân phố số 5/ {sub("#", "", $1); print $1; exit}')
s dossier act "$rid" submit --as tdp-so-5-cam-duong.clerk --doc "van_ban_bao_cao=$tmp/bao_cao.pdf"
s clock set 2026-11-14T17:00:00Z   # 00:00 ngày 15/11 giờ Việt Nam: quá hạn "trước ngày 15/11"
s reports status --year 2026 --jurisdiction lao-cai
s notify deliver
s audit verify

echo; echo "== 7. hoso serve: API HTTP trên $DB (cấu hình config/server.yaml)"
out="$tmp/serve.out"
"$HOSO" --db "$DB" serve > "$out" 2> "$tmp/serve.log" &
server=$!
trap 'kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do grep -q "Đang phục vụ" "$out" && break; sleep 0.1; done
if ! grep -q "Đang phục vụ" "$out"; then cat "$tmp/serve.log" >&2; exit 1; fi
url=$(grep -o 'http://[^ ]*' "$out")
port=${url##*:}
cat "$out"
token() { "$HOSO" --db "$DB" users token "$1" --json | grep -o '"token":"[^"]*"' | cut -d'"' -f4; }
# A minimal HTTP/1.1 client over bash's /dev/tcp (nothing else to install): METHOD PATH TOKEN [BODY].
http() {
  local body=${4:-} len
  len=$(LC_ALL=C; echo ${#body})
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
    "$1" "$2" "$3" "$len" "$body" >&3
  sed -n '/^\r$/,$p' <&3 | tail -n +2
  exec 3<&-
  echo
}
unit=$(token xom-khuan-lan.clerk)
police=$(token ca-xa-phuong-tien.clerk)
docs_json=""
for kind in to_trinh bao_cao_thanh_tich bien_ban_hop y_kien_hiep_y xac_nhan_thanh_tich; do
  docs_json+="${docs_json:+,}{\"kind\":\"$kind\",\"filename\":\"$kind.pdf\",\"sha256\":\"$(sha256sum "$tmp/$kind.pdf" | cut -c1-64)\",\"size\":$(stat -c %s "$tmp/$kind.pdf")}"
done
echo "\$ POST /dossiers (xom-khuan-lan.clerk)" >&2
created=$(http POST /dossiers "$unit" "{\"workflow\":\"standard\",\"award\":\"giay_khen_xa\",\"fields\":{\"recipient_name\":\"Xóm Khuân Lân\",\"recipient_kind\":\"collective\"},\"documents\":[$docs_json]}")
echo "$created" | cut -c1-300
id=$(echo "$created" | grep -o '"id":[0-9]*' | head -1 | cut -d: -f2)
echo "\$ POST /dossiers/$id/actions/submit (xom-khuan-lan.clerk)" >&2
http POST "/dossiers/$id/actions/submit" "$unit" '{"expected_version":1}' | cut -c1-300
echo "\$ GET /inbox (ca-xa-phuong-tien.clerk)" >&2
http GET /inbox "$police" | cut -c1-300
echo "\$ POST /dossiers/$id/actions/accept (ca-tinh-lao-cai.clerk: tỉnh khác, bị từ chối)" >&2
http POST "/dossiers/$id/actions/accept" "$(token ca-tinh-lao-cai.clerk)" '{}'
echo "\$ POST /dossiers/$id/actions/accept (ca-xa-phuong-tien.clerk)" >&2
http POST "/dossiers/$id/actions/accept" "$police" '{"expected_version":2}' | cut -c1-300
sleep 1.5  # the dispatcher sends the notices of the submission and the acceptance
h history "$id"
if [ -t 0 ] && [ "${CI:-}" != "true" ]; then
  echo; echo "hoso serve đang chạy tại $url (mã thông báo: ./build/adapters/hoso users token NGƯỜI_DÙNG; tài liệu API: $url/openapi.json). Nhấn Ctrl-C để dừng."
  trap 'kill -TERM "$server" 2>/dev/null || true' INT
  wait "$server" || true
else
  kill -TERM "$server"; wait "$server" || true
fi
cat "$tmp/serve.log" >&2
h notify status
h audit verify
echo; echo "Cơ sở dữ liệu: $DB (mô phỏng: $SIM) — thử: ./build/adapters/hoso inbox --as ca-tinh-thai-nguyen.clerk"
