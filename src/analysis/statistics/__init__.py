"""The statistics layer: campaigns, lifecycle, segmentation, CLV, uplift, time series, sleeping
lists, the study's claims and the design math of plans. Returns numbers and neutral codes;
imports only the data layer."""
