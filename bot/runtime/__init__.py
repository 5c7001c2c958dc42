"""The model runtime: device, dtype, lazy load, idle unload, the GPU lock, the memory budget and the services.
"""
