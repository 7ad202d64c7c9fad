"""The robot side of the policy runtime: a ROS 2 bridge between a camera, the policy server and the base.

``bridge.core`` (plain Python: newest-frame slot, sequence matching, age limits, clamping, watchdog),
``bridge.runner`` (its inference and watchdog threads), ``bridge.image`` (``sensor_msgs/Image`` fields
↔ arrays), ``bridge.ros2`` (the thin rclpy node, ``python -m bridge.ros2 --server URL``) and
``bridge.replay`` (a rosbag2 recording of camera frames through the bridge, without a robot).
Only ``bridge.ros2`` needs the ROS 2 wheels (``pip install -e '.[ros]'``); ``bridge.replay`` needs
``rosbags``.
"""
