"""A Reel through instagrapi, one request at a time, as instagrapi's clip_upload makes one: the upload settings, the
video's rupload (its announcement, then its bytes) and the cover's rupload under the same upload id; then
configure_to_clips, the one request that makes the post.

instagrapi's clip_upload cannot be used whole: it probes the file (and, without a thumbnail, needs MoviePy), prints,
and configures in a loop where a post could be made before pawpost has recorded that it may exist. Here the width,
height and length come from the prepared medium, the cover is the prepared cover, every upload is a safe-to-redo
Step.UPLOAD, and configure_to_clips is sent again only after Instagram answered that it has not finished
transcoding the video (a refusal: nothing was posted), until `instagram.reel_wait_seconds`.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

from bot.publish.base import PreparedMedium
from bot.publish.errors import PublishError
from bot.publish.outcome import Outcome, Step
from bot.publish.publishers.instagrapi.answers import says_not_ready

log = logging.getLogger(__name__)

# Waits (seconds) before each configure_to_clips after a "transcode not finished yet"; the last repeats.
TRANSCODE_WAITS = (5, 10, 15, 30)

Run = Callable[[Step, Callable[[], Any]], Any]


def upload_clip(client: Any, video: PreparedMedium, run: Run) -> str:
    """Upload the video and its cover; returns the upload id that configure_to_clips names. Every request here is
    an upload: it posts nothing, and all of them are made again by a later attempt."""
    from instagrapi import config

    upload_id = str(int(time.time() * 1000))
    data = Path(video.path).read_bytes()
    length = str(len(data))
    duration_ms = str(int(video.duration * 1000))
    session = str(uuid4())
    asset = uuid4().hex[:12].upper()
    name = f"{uuid4().hex}-0-{length}-{upload_id}-{upload_id}"
    settings = json.dumps({
        "composer_session_id": session,
        "upload_setting_properties": {
            "upload_settings_version": "v0.1", "codec": {},
            "context": {"source_attribution": None, "enable_video_dimension_upscale": False, "source_type": "clips",
                        "quality": "", **({"target_id": int(client.user_id)} if client.user_id else {})},
            "video": {"video_height": video.height, "video_gop_size_sec": 0, "video_rotation_angle": 0,
                      "video_width": video.width, "source_video_codec": None, "video_partial_frame_size_bytes": 0,
                      "asset_id": asset, "video_key_frame_size_bytes": 0, "target_duration": int(video.duration),
                      "video_original_file_size": int(length), "video_duration_milliseconds": int(duration_ms),
                      "audio_bit_rate_bps": -1, "video_bit_rate_bps": 0, "audio_codec_type": None, "video_fps": 30},
            "creative_tools": {"transmuxing_eligible": False, "transcoding_required": True},
            "network": {"download_latency_connection_quality": "ig_dummy", "network_connection_name": "ig_dummy",
                        "download_bandwidth_connection_quality": "ig_dummy"},
        },
        "preview_spec": {"spec_version": 1, "video_dur_ms": int(duration_ms), "audio_dur_ms": int(duration_ms)},
    })
    size = str(len(settings.encode("utf-8")))
    headers = client.private_headers({
        "Accept-Encoding": "gzip", "Content-Type": "application/json", "Content-Length": size, "Offset": "0",
        "X-Entity-Length": size, "X-Entity-Name": "upload_settings", "X-Entity-Type": "application/json",
        "X_FB_VIDEO_WATERFALL_ID": f"{session}_settings"})
    run(Step.UPLOAD, lambda: _ok(client, "upload_settings", client.private.post(
        f"https://{config.API_DOMAIN}/upload_settings/{session}", data=settings, headers=headers)))
    params = {
        "provenance_metadata": json.dumps({"origin": ["EXTERNAL"]}), "upload_media_height": str(video.height),
        "share_type": "reels", "debug_segment_id": "0", "extract_cover_frame": "1", "upload_engine_config_enum": "0",
        "xsharing_user_ids": "[]", "upload_media_width": str(video.width), "stella_data": "{}",
        "is_clips_video": "1", "is_optimistic_upload": "true", "upload_media_duration_ms": duration_ms,
        "content_tags": "use_default_cover", "upload_id": upload_id,
        "retry_context": '{"num_reupload":0,"num_step_manual_retry":0,"num_step_auto_retry":0}',
        "session_id": upload_id, "media_type": "2",
    }
    headers = client.private_headers({
        "Accept-Encoding": "gzip", "X-Instagram-Rupload-Params": json.dumps(params),
        "X_FB_VIDEO_WATERFALL_ID": f"{session}_{asset}_Mixed_0", "X-Entity-Type": "video/mp4",
        "Segment-Start-Offset": "0", "Segment-Type": "3"})
    url = f"https://{config.API_DOMAIN}/rupload_igvideo/{name}"
    run(Step.UPLOAD, lambda: _ok(client, "rupload_init", client.private.get(url, headers=headers)))
    headers = {"Offset": "0", "X-Entity-Name": name, "X-Entity-Length": length,
               "Content-Type": "application/octet-stream", "Content-Length": length, **headers}
    run(Step.UPLOAD, lambda: _ok(client, "rupload_upload", client.private.post(url, data=data, headers=headers)))
    with _cover(video) as cover:
        run(Step.UPLOAD, lambda: client.photo_rupload(cover, upload_id, for_story=True))
    return upload_id


def configure_clip(client: Any, video: PreparedMedium, upload_id: str, caption: str, run: Run, *,
                   wait_seconds: float, sleep: Callable[[float], None]) -> Any:
    """configure_to_clips, the request that makes the Reel (the caller has recorded that the post may exist).
    Sent again only after a "transcode not finished yet" refusal, until `wait_seconds` have been waited."""
    data = client.with_default_data(_configure_data(client, video, upload_id, caption))
    waits = iter(_waits(wait_seconds))
    while True:
        try:
            return run(Step.CREATE, lambda: client.private_request("media/configure_to_clips/?video=1", data,
                                                                   with_signature=True))
        except PublishError as err:
            delay = next(waits, None) if err.outcome == Outcome.REFUSED and says_not_ready(err.message) else None
            if delay is None:
                raise
        log.info("Instagram is still transcoding the Reel; configuring again in %.0f s", delay)
        sleep(delay)


def _waits(total: float) -> list[float]:
    """TRANSCODE_WAITS, its last value repeated, the last one cut to add up to `total`."""
    waits: list[float] = []
    while sum(waits) < total:
        waits.append(min(float(TRANSCODE_WAITS[min(len(waits), len(TRANSCODE_WAITS) - 1)]), total - sum(waits)))
    return waits


def _configure_data(client: Any, video: PreparedMedium, upload_id: str, caption: str) -> dict[str, Any]:
    """configure_to_clips' body as instagrapi's clip_configure sends it: shared to the feed, the original sound."""
    duration_ms = int(video.duration * 1000)
    data: dict[str, Any] = {
        "filter_type": "0", "timezone_offset": str(client.timezone_offset), "location": "{}", "source_type": "4",
        "caption": caption, "usertags": json.dumps({"in": []}), "clips_share_preview_to_feed": "1",
        "upload_id": upload_id, "device": client.device, "length": video.duration,
        "clips_segments_metadata": {"num_segments": 1, "clips_segments": [{
            "index": 0, "face_effect_id": None, "speed": 100, "source_type": 4, "duration_ms": duration_ms,
            "audio_type": "original", "from_draft": 0, "camera_position": -1, "media_folder": None,
            "media_type": "video", "original_media_type": 2, "original_segment_hash": None, "is_remix": False,
            "has_reusable_template_asset": False}]},
        "clips_audio_metadata": {"original": {"volume_level": 1.0}},
        "additional_audio_info": {"has_voiceover_attribution": 0},
        "edits": {"filter_type": 0, "filter_strength": 1.0}, "capture_type": "clips_v2",
        "clips_creation_entry_point": "clips", "camera_entry_point": "71", "audience": "default",
        "include_e2ee_mentioned_user_list": "1", "hide_from_profile_grid": "false",
        "original_width": video.width, "original_height": video.height,
        "extra": {"source_width": video.width, "source_height": video.height}, "audio_muted": False,
        "poster_frame_index": 70,
    }
    if video.alt_text:
        data["custom_accessibility_caption"] = video.alt_text
    return data


def _ok(client: Any, stage: str, response: Any) -> Any:
    """An upload request's answer: a 200, or the error instagrapi raises for it (its body read by `answers`)."""
    from instagrapi.exceptions import ClipNotUpload

    client.last_response = response
    if response.status_code == 200:
        return response
    try:
        body = response.json()
    except ValueError:
        body = {}
    client.last_json = body if isinstance(body, dict) else {}
    raise ClipNotUpload(f"Clip upload failed during {stage}: HTTP {response.status_code}", response=response)


class _cover:
    """The prepared cover, or (when prepare gave none) the video's first frame as a temporary JPEG: configure needs
    a cover, and instagrapi would make one only through MoviePy."""

    def __init__(self, video: PreparedMedium) -> None:
        self.video = video
        self.temp: Path | None = None

    def __enter__(self) -> Path:
        if self.video.cover is not None:
            return Path(self.video.cover)
        from bot.video.frames import frame_at

        image = frame_at(Path(self.video.path), 0.0)
        handle = tempfile.NamedTemporaryFile(suffix=".jpg", delete=False)
        handle.close()
        self.temp = Path(handle.name)
        image.convert("RGB").save(self.temp, "JPEG", quality=90)
        return self.temp

    def __exit__(self, *exc: object) -> None:
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)

