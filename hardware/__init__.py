"""Doorstep's hardware layer: small interfaces, real drivers, and faithful simulations.

Nothing here imports the rest of Doorstep, and nothing is imported on
``import hardware``: pick the module you need.

- ``interfaces``: the Protocols (Doorbell, LockActuator, DoorContact, Camera, Indicator)
- ``gpio_inputs``, ``gpio_lock``, ``gpio_indicator``: gpiozero drivers (pass ``pin_factory=``)
- ``pins``: pin checks and ``real_pin_factory()`` for a Raspberry Pi
- ``cameras``: ``PiCamera`` (picamera2, Pi only) and ``UsbCamera`` (OpenCV)
- ``sim_camera``: ``SimCamera`` (drawn by ``sim_drawing``, numpy only); ``simulated``:
  ``SimulatedBoard``, a whole door on MockFactory
- ``imaging``: sharpness, sharpest-of-burst, JPEG encoding (numpy + simplejpeg, no OpenCV)

    >>> from hardware.simulated import SimulatedBoard
    >>> board = SimulatedBoard(); board.ring(); board.close()
"""
